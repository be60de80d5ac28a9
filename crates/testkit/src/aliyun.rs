//! `AliyunStandIn`: answers Alibaba Cloud SMS (Dysmsapi) `SendSms`, version
//! 2017-05-25, the way the RPC API documents it: common parameters, the
//! HMAC-SHA1 signature (version 1.0) recomputed with the AccessKey secret,
//! timestamps within 15 minutes, one use per SignatureNonce, and JSON
//! answers with `Code` (`OK` or an error code) and `Message`.
//!
//! Gateway errors (signature, nonce, missing parameters) come with HTTP 4xx;
//! business errors (`isv.*`) with HTTP 200, as the real service does. The
//! stand-in answers JSON only, so a request that does not ask for
//! `Format=JSON` (the service's default is XML) is refused.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha1::Sha1;

use crate::http::LocalServer;

/// A `SendSms` request the stand-in accepted.
#[derive(Debug, Clone)]
pub struct AliyunSms {
    /// As sent: comma-separated numbers, mainland ones without +86,
    /// others as country code + number without `+`.
    pub phone_numbers: String,
    pub sign_name: String,
    pub template_code: String,
    /// The JSON object of template variables, as sent.
    pub template_param: Option<String>,
    pub region_id: Option<String>,
    pub biz_id: String,
}

impl AliyunSms {
    /// One template variable, e.g. `template_value("code")`.
    pub fn template_value(&self, name: &str) -> Option<String> {
        let params: serde_json::Value = serde_json::from_str(self.template_param.as_ref()?).ok()?;
        params.get(name)?.as_str().map(str::to_string)
    }
}

pub struct AliyunStandIn {
    server: LocalServer,
    state: Arc<StandInState>,
}

struct StandInState {
    access_key_id: String,
    access_key_secret: String,
    messages: Mutex<Vec<AliyunSms>>,
    nonces: Mutex<HashSet<String>>,
    fail_next: Mutex<Option<(u16, String, String)>>,
}

/// How far a request's Timestamp may be from the stand-in's clock.
const TIMESTAMP_WINDOW_SECS: i64 = 15 * 60;

impl AliyunStandIn {
    /// A stand-in that knows one AccessKey pair.
    pub async fn start(access_key_id: &str, access_key_secret: &str) -> AliyunStandIn {
        let state = Arc::new(StandInState {
            access_key_id: access_key_id.to_string(),
            access_key_secret: access_key_secret.to_string(),
            messages: Mutex::new(Vec::new()),
            nonces: Mutex::new(HashSet::new()),
            fail_next: Mutex::new(None),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        AliyunStandIn {
            server: LocalServer::start(router).await,
            state,
        }
    }

    /// Where a client aims instead of `https://dysmsapi.aliyuncs.com`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<AliyunSms> {
        self.state.messages.lock().expect("stand-in lock").clone()
    }

    /// The next request, whatever it holds, is answered with this `Code`
    /// and `Message` (e.g. `200, "isv.BUSINESS_LIMIT_CONTROL", "…"`).
    pub fn fail_next(&self, status: u16, code: &str, message: &str) {
        *self.state.fail_next.lock().expect("stand-in lock") =
            Some((status, code.to_string(), message.to_string()));
    }
}

async fn handle(
    State(state): State<Arc<StandInState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((status, code, message)) = state.fail_next.lock().expect("stand-in lock").take() {
        return answer(status, &code, &message);
    }
    if uri.path() != "/" {
        return not_found();
    }
    if method != Method::GET && method != Method::POST {
        return answer(
            400,
            "UnsupportedHTTPMethod",
            "This http method is not supported.",
        );
    }
    // RPC parameters may come in the query string, in a form body, or both.
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default(),
        );
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    };

    for name in [
        "Action",
        "Version",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
    ] {
        if param(name).is_none() {
            return missing(name);
        }
    }
    let value = |name: &str| param(name).unwrap_or_default();
    if value("Action") != "SendSms" {
        return not_found();
    }
    if value("Version") != "2017-05-25" {
        return answer(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        );
    }
    if param("Format") != Some("JSON") {
        return answer(
            400,
            "InvalidParameter.Format",
            "Specified parameter format is not valid.",
        );
    }
    if value("SignatureMethod") != "HMAC-SHA1" {
        return answer(
            400,
            "InvalidSignatureMethod",
            "Specified signature method is not valid.",
        );
    }
    if value("SignatureVersion") != "1.0" {
        return answer(
            400,
            "InvalidSignatureVersion",
            "Specified signature version is not valid.",
        );
    }
    let Some(timestamp) = parse_timestamp(value("Timestamp")) else {
        return answer(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        );
    };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
        return answer(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        );
    }
    if value("AccessKeyId") != state.access_key_id {
        return answer(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        );
    }
    let string_to_sign = string_to_sign(method.as_str(), &params);
    if !signature_matches(
        &string_to_sign,
        &state.access_key_secret,
        value("Signature"),
    ) {
        // The real service shows its string-to-sign so a client can compare.
        return answer(
            400,
            "SignatureDoesNotMatch",
            &format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"),
        );
    }
    // Only signed requests spend a nonce, so a forger cannot burn them.
    if !state
        .nonces
        .lock()
        .expect("stand-in lock")
        .insert(value("SignatureNonce").to_string())
    {
        return answer(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        );
    }

    for name in ["PhoneNumbers", "SignName", "TemplateCode"] {
        if param(name).is_none() {
            return missing(name);
        }
    }
    let phone_numbers = value("PhoneNumbers");
    if !phone_numbers.split(',').all(is_documented_number) {
        return answer(200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number");
    }
    let template_param = param("TemplateParam");
    if let Some(template) = template_param {
        let valid = serde_json::from_str::<serde_json::Value>(template)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.values().all(|v| v.is_string())))
            .unwrap_or(false);
        if !valid {
            return answer(
                200,
                "isv.INVALID_JSON_PARAM",
                "TemplateParam must be a JSON object with string values",
            );
        }
    }

    let biz_id = format!("{}^0", rand::random::<u64>() % 1_000_000_000_000_000);
    state
        .messages
        .lock()
        .expect("stand-in lock")
        .push(AliyunSms {
            phone_numbers: phone_numbers.to_string(),
            sign_name: value("SignName").to_string(),
            template_code: value("TemplateCode").to_string(),
            template_param: template_param.map(str::to_string),
            region_id: param("RegionId").map(str::to_string),
            biz_id: biz_id.clone(),
        });
    let body = json!({
        "Code": "OK",
        "Message": "OK",
        "BizId": biz_id,
        "RequestId": request_id(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// `POST&%2F&` + the encoded canonical query: parameters except Signature
/// sorted by name, names and values percent-encoded, joined with `&`.
fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(key, _)| key != "Signature")
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let canonical = sorted
        .iter()
        .map(|(key, value)| format!("{}={}", pop_encode(key), pop_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&{}&{}", pop_encode("/"), pop_encode(&canonical))
}

fn sign(string_to_sign: &str, secret: &str) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}

fn signature_matches(string_to_sign: &str, secret: &str, signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    sign(string_to_sign, secret).verify_slice(&given).is_ok()
}

/// Alibaba's percent-encoding: RFC 3986 unreserved characters stay, every
/// other UTF-8 byte becomes `%XY` in upper-case hex (so space is `%20`,
/// `*` is `%2A`, `~` stays).
fn pop_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `YYYY-MM-DDThh:mm:ssZ` in UTC, as Unix seconds.
fn parse_timestamp(text: &str) -> Option<i64> {
    if text.len() != 20 {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// The formats `SendSms` documents for `PhoneNumbers`: a mainland number as
/// 11 digits (optionally after `+`, `+86`, `0086` or `86`); any other as
/// country code + number, digits only, no `+`.
fn is_documented_number(number: &str) -> bool {
    let mainland = ["+86", "0086", "86", "+", ""]
        .iter()
        .filter_map(|prefix| number.strip_prefix(prefix))
        .any(|rest| rest.len() == 11 && rest.starts_with('1') && all_digits(rest));
    let international = (8..=15).contains(&number.len())
        && all_digits(number)
        && !number.starts_with('0')
        && !number.starts_with("86");
    mainland || international
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

fn request_id() -> String {
    let id = format!("{:032X}", rand::random::<u128>());
    format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

fn missing(name: &str) -> Response {
    answer(
        400,
        &format!("Missing{name}"),
        &format!("{name} is mandatory for this action."),
    )
}

fn not_found() -> Response {
    answer(
        404,
        "InvalidApi.NotFound",
        "Specified api is not found, please check your url and method.",
    )
}

fn answer(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({
        "RequestId": request_id(),
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"),
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn signature(method: &str, params: &[(String, String)], secret: &str) -> String {
        let mac = sign(&string_to_sign(method, params), secret);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Alibaba Cloud's worked example for RPC signatures (DescribeRegions,
    /// AccessKey `testid` / `testsecret`).
    #[test]
    fn matches_the_documented_describe_regions_example() {
        let params = pairs(&[
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Format", "XML"),
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("Version", "2014-05-26"),
            ("SignatureVersion", "1.0"),
        ]);
        assert_eq!(
            string_to_sign("GET", &params),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            signature("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    /// The SMS documentation's own example (SendSms, `testId` / `testSecret`).
    #[test]
    fn matches_the_documented_send_sms_example() {
        let params = pairs(&[
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
        ]);
        assert_eq!(
            signature("GET", &params, "testSecret"),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn encodes_like_alibaba() {
        assert_eq!(pop_encode("a b*c~d+e/"), "a%20b%2Ac~d%2Be%2F");
        assert_eq!(pop_encode("驗"), "%E9%A9%97");
    }

    #[test]
    fn knows_the_documented_number_formats() {
        assert!(is_documented_number("13800138000"));
        assert!(is_documented_number("8613800138000"));
        assert!(is_documented_number("85291234567"));
        assert!(!is_documented_number("+85291234567"));
        assert!(!is_documented_number("91234567x"));
    }

    #[tokio::test]
    async fn refuses_a_reused_nonce_and_a_bad_signature() {
        let stand_in = AliyunStandIn::start("id", "secret").await;
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut params = pairs(&[
            ("AccessKeyId", "id"),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("PhoneNumbers", "85291234567"),
            ("SignName", "Tram"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "n-1"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_1"),
            ("TemplateParam", "{\"code\":\"123456\"}"),
            ("Timestamp", &timestamp),
            ("Version", "2017-05-25"),
        ]);
        let signed = signature("POST", &params, "secret");
        params.push(("Signature".into(), signed));
        let client = reqwest::Client::new();
        let send = |params: Vec<(String, String)>| {
            let request = client.post(stand_in.base_url() + "/").form(&params);
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, body["Code"].as_str().unwrap().to_string())
            }
        };
        assert_eq!(send(params.clone()).await, (200, "OK".to_string()));
        assert_eq!(
            send(params.clone()).await,
            (400, "SignatureNonceUsed".to_string())
        );

        let mut forged = params.clone();
        forged.iter_mut().for_each(|(k, v)| {
            if k == "SignatureNonce" {
                *v = "n-2".into();
            }
        });
        assert_eq!(
            send(forged).await,
            (400, "SignatureDoesNotMatch".to_string())
        );
        assert_eq!(stand_in.messages().len(), 1);
        assert_eq!(
            stand_in.messages()[0].template_value("code").as_deref(),
            Some("123456")
        );
    }
}
