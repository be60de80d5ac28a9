//! The Alibaba Cloud SMS provider: Dysmsapi `SendSms` (version 2017-05-25),
//! an RPC-style call signed with HMAC-SHA1 (signature version 1.0) and sent
//! as a form POST. Alibaba only sends approved templates: the configured
//! template's `${code}` receives `SmsMessage::code`.
//!
//! A message without a code is refused rather than sent: the template is a
//! verification-code template, and Alibaba does not deliver free text, so
//! filling it with something else would send a broken message or fail at
//! Alibaba with a less clear error.

use std::collections::BTreeMap;

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use sha1::Sha1;

use super::twilio::{error_chain, http_client, scrub};
use super::{mask_destination, NotifyError, SmsMessage, SmsProvider};
use crate::config::SmsConfig;

const DEFAULT_API_BASE: &str = "https://dysmsapi.aliyuncs.com";
const PROVIDER: &str = "aliyun";
const API_VERSION: &str = "2017-05-25";

/// Alibaba's encoding for signing: RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) stay, every other UTF-8 byte becomes `%XY`, so
/// a space is `%20` (not `+`) and `*` is `%2A`.
const POP_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct AliyunSms {
    client: reqwest::Client,
    endpoint: String,
    access_key_id: String,
    access_key_secret: String,
    sign_name: String,
    template_code: String,
    region: String,
}

impl AliyunSms {
    pub fn new(config: &SmsConfig) -> Result<AliyunSms, NotifyError> {
        for (value, what) in [
            (&config.account_id, "sms.account_id (the AccessKey ID)"),
            (
                &config.account_secret,
                "sms.account_secret (the AccessKey secret)",
            ),
            (&config.sender, "sms.sender (the approved SMS sign name)"),
            (&config.template_code, "sms.template_code"),
        ] {
            if value.trim().is_empty() {
                return Err(NotifyError::Config(format!("{what} is empty")));
            }
        }
        let base = if config.api_base.is_empty() {
            DEFAULT_API_BASE
        } else {
            config.api_base.trim_end_matches('/')
        };
        Ok(AliyunSms {
            client: http_client()?,
            endpoint: format!("{base}/"),
            access_key_id: config.account_id.trim().to_string(),
            access_key_secret: config.account_secret.clone(),
            sign_name: config.sender.trim().to_string(),
            template_code: config.template_code.trim().to_string(),
            region: config.region.trim().to_string(),
        })
    }

    /// The signed form body of one `SendSms` call.
    fn request_body(&self, phone_numbers: &str, template_param: &str) -> String {
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = format!("{:032x}", rand::random::<u128>());
        let mut params: BTreeMap<&str, String> = BTreeMap::from([
            ("AccessKeyId", self.access_key_id.clone()),
            ("Action", "SendSms".to_string()),
            ("Format", "JSON".to_string()),
            ("PhoneNumbers", phone_numbers.to_string()),
            ("SignName", self.sign_name.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_string()),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0".to_string()),
            ("TemplateCode", self.template_code.clone()),
            ("TemplateParam", template_param.to_string()),
            ("Timestamp", timestamp),
            ("Version", API_VERSION.to_string()),
        ]);
        if !self.region.is_empty() {
            params.insert("RegionId", self.region.clone());
        }
        let canonical = canonical_query(&params);
        let signature = sign("POST", &canonical, &self.access_key_secret);
        format!("{canonical}&Signature={}", pop_encode(&signature))
    }
}

#[derive(Deserialize)]
struct SendSmsAnswer {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "BizId")]
    biz_id: Option<String>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

#[async_trait::async_trait]
impl SmsProvider for AliyunSms {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), NotifyError> {
        let phone_number = phone_number(&message.to).ok_or_else(|| {
            provider_error(format!(
                "{} is not an international (E.164) number",
                mask_destination(&message.to)
            ))
        })?;
        let Some(code) = message.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(provider_error(
                "only verification codes can be sent through the configured template, and this message has none".into(),
            ));
        };
        let template_param = serde_json::json!({ "code": code }).to_string();

        let response = self
            .client
            .post(&self.endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(self.request_body(&phone_number, &template_param))
            .send()
            .await
            .map_err(|err| {
                provider_error(format!("could not reach the API: {}", error_chain(&err)))
            })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        let Ok(answer) = serde_json::from_slice::<SendSmsAnswer>(&body) else {
            return Err(provider_error(format!(
                "HTTP {status} without a JSON answer"
            )));
        };
        let code_text = answer.code.unwrap_or_default();
        if status.is_success() && code_text == "OK" {
            tracing::info!(
                to = %mask_destination(&message.to),
                biz_id = answer.biz_id.as_deref().unwrap_or(""),
                "SMS accepted by Alibaba Cloud"
            );
            return Ok(());
        }
        let detail = format!(
            "{} (HTTP {}): {}{}",
            if code_text.is_empty() {
                "no Code"
            } else {
                &code_text
            },
            status.as_u16(),
            readable_message(answer.message.as_deref().unwrap_or("")),
            answer
                .request_id
                .map(|id| format!(" (RequestId {id})"))
                .unwrap_or_default(),
        );
        // The number as Alibaba saw it (no `+`) is masked too.
        let detail = detail.replace(&phone_number, &mask_destination(&message.to));
        Err(provider_error(scrub(&detail, message)))
    }
}

/// `+8613800138000` → `13800138000` (mainland numbers go without 86);
/// `+85291234567` → `85291234567` (others: country code and number, no
/// `+`), as `SendSms` documents for `PhoneNumbers`.
fn phone_number(e164: &str) -> Option<String> {
    let digits = e164.trim().strip_prefix('+')?;
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.strip_prefix("86").unwrap_or(digits).to_string())
}

fn pop_encode(text: &str) -> String {
    utf8_percent_encode(text, POP_ENCODE).to_string()
}

/// Parameters sorted by name (the map keeps them so), each name and value
/// encoded, joined with `&`.
fn canonical_query(params: &BTreeMap<&str, String>) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{}={}", pop_encode(name), pop_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Base64(HMAC-SHA1(secret + "&", method + "&%2F&" + encode(canonical query))).
fn sign(method: &str, canonical_query: &str, secret: &str) -> String {
    let string_to_sign = format!(
        "{method}&{}&{}",
        pop_encode("/"),
        pop_encode(canonical_query)
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Alibaba's message without the string-to-sign it appends on signature
/// errors (that string holds the template parameters, i.e. the code).
fn readable_message(message: &str) -> String {
    let cut = message
        .find("server string to sign")
        .map(|at| &message[..at])
        .unwrap_or(message)
        .trim_end_matches([' ', '.', ':']);
    cut.chars().take(300).collect()
}

fn provider_error(detail: String) -> NotifyError {
    NotifyError::Provider {
        provider: PROVIDER,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(list: &[(&'a str, &str)]) -> BTreeMap<&'a str, String> {
        list.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn encodes_the_way_alibaba_documents() {
        assert_eq!(pop_encode("a b*c~d"), "a%20b%2Ac~d");
        assert_eq!(
            pop_encode("2016-02-23T12:46:24Z"),
            "2016-02-23T12%3A46%3A24Z"
        );
        assert_eq!(pop_encode("/=&+"), "%2F%3D%26%2B");
        assert_eq!(pop_encode("派"), "%E6%B4%BE");
    }

    /// Alibaba Cloud's worked example in "Signature mechanism" for RPC APIs
    /// (DescribeRegions, AccessKey `testid` / `testsecret`, signed for GET).
    #[test]
    fn signs_the_documented_rpc_example() {
        let query = canonical_query(&params(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]));
        assert_eq!(
            sign("GET", &query, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    /// The SMS documentation's signing example (SendSms, `testId` /
    /// `testSecret`, a Simplified Chinese sign name, signed for GET).
    #[test]
    fn signs_the_documented_send_sms_example() {
        let query = canonical_query(&params(&[
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", "{\"customer\":\"test\"}"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]));
        assert_eq!(
            sign("GET", &query, "testSecret"),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn formats_numbers_as_send_sms_documents() {
        assert_eq!(phone_number("+85291234567").as_deref(), Some("85291234567"));
        assert_eq!(
            phone_number("+8613800138000").as_deref(),
            Some("13800138000")
        );
        assert_eq!(phone_number("+85361234567").as_deref(), Some("85361234567"));
        assert_eq!(phone_number("91234567"), None);
        assert_eq!(phone_number("+852 9123 4567"), None);
    }

    #[test]
    fn drops_the_string_to_sign_from_error_messages() {
        assert_eq!(
            readable_message("Specified signature is not matched with our calculation. server string to sign is:POST&%2F&...123456"),
            "Specified signature is not matched with our calculation"
        );
    }
}
