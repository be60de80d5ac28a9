//! The Twilio SMS provider: Programmable Messaging's "create a Message"
//! (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth
//! with the Account SID and Auth Token, a form with `To`, `From`, `Body`).
//! Twilio answers `201 Created` with the Message resource, or an error
//! object `{code, message, more_info, status}` whose code we pass on.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::{mask_destination, NotifyError, SmsMessage, SmsProvider};
use crate::config::SmsConfig;

const DEFAULT_API_BASE: &str = "https://api.twilio.com";
const PROVIDER: &str = "twilio";

pub struct TwilioSms {
    client: reqwest::Client,
    /// The Messages endpoint of the configured account.
    messages_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

impl TwilioSms {
    pub fn new(config: &SmsConfig) -> Result<TwilioSms, NotifyError> {
        for (value, what) in [
            (
                &config.account_id,
                "sms.account_id (the Twilio Account SID)",
            ),
            (
                &config.account_secret,
                "sms.account_secret (the Twilio Auth Token)",
            ),
            (
                &config.sender,
                "sms.sender (the Twilio number to send from)",
            ),
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
        let messages_url = format!(
            "{base}/2010-04-01/Accounts/{}/Messages.json",
            utf8_percent_encode(config.account_id.trim(), NON_ALPHANUMERIC)
        );
        Ok(TwilioSms {
            client: http_client()?,
            messages_url,
            account_sid: config.account_id.trim().to_string(),
            auth_token: config.account_secret.clone(),
            from: config.sender.trim().to_string(),
        })
    }
}

/// The part of the Message resource we look at.
#[derive(Deserialize)]
struct CreatedMessage {
    sid: String,
    status: Option<String>,
    error_code: Option<i64>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
}

#[async_trait::async_trait]
impl SmsProvider for TwilioSms {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), NotifyError> {
        let response = self
            .client
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[
                ("To", message.to.as_str()),
                ("From", self.from.as_str()),
                ("Body", message.text.as_str()),
            ])
            .send()
            .await
            .map_err(|err| unreachable_error(&err))?;
        let status = response.status();
        // An unreadable body is reported by its status alone.
        let body = response.bytes().await.unwrap_or_default();

        if status.is_success() {
            let created: CreatedMessage = serde_json::from_slice(&body).map_err(|_| {
                provider_error(format!(
                    "HTTP {status} with an answer that is not a Message resource"
                ))
            })?;
            // Twilio only queues at this point; "failed" here means it gave up at once.
            if matches!(created.status.as_deref(), Some("failed" | "undelivered")) {
                let code = created
                    .error_code
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                return Err(provider_error(format!(
                    "message {} {} at once (error {code})",
                    created.sid,
                    created.status.unwrap_or_default()
                )));
            }
            tracing::info!(
                to = %mask_destination(&message.to),
                sid = %created.sid,
                status = created.status.as_deref().unwrap_or(""),
                "SMS accepted by Twilio"
            );
            return Ok(());
        }

        let detail = match serde_json::from_slice::<TwilioError>(&body) {
            Ok(error) => format!(
                "error {} (HTTP {}): {}{}",
                error
                    .code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into()),
                status.as_u16(),
                error.message.unwrap_or_default(),
                error
                    .more_info
                    .map(|url| format!(" ({url})"))
                    .unwrap_or_default(),
            ),
            Err(_) => format!("HTTP {status} without a Twilio error object"),
        };
        Err(provider_error(scrub(&detail, message)))
    }
}

fn provider_error(detail: String) -> NotifyError {
    NotifyError::Provider {
        provider: PROVIDER,
        detail,
    }
}

fn unreachable_error(err: &reqwest::Error) -> NotifyError {
    provider_error(format!("could not reach the API: {}", error_chain(err)))
}

/// Provider messages may quote the destination number (Twilio: "Invalid
/// 'To' Phone Number: +852…"); errors end up in logs, so the number is
/// masked, and the text or code never appear even if a message quotes them.
pub(super) fn scrub(detail: &str, message: &SmsMessage) -> String {
    let mut detail = detail.replace(&message.to, &mask_destination(&message.to));
    if !message.text.is_empty() {
        detail = detail.replace(&message.text, "[message text]");
    }
    if let Some(code) = message.code.as_deref().filter(|c| !c.is_empty()) {
        detail = detail.replace(code, "[code]");
    }
    detail
}

/// The client both HTTP providers use: rustls, and a 10 s limit so a
/// hanging provider cannot hold a sign-in request for long.
pub(super) fn http_client() -> Result<reqwest::Client, NotifyError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|err| NotifyError::Config(format!("could not set up the HTTP client: {err}")))
}

/// An error with its causes ("error sending request: … Connection refused"),
/// without the URL (it names the account).
pub(super) fn error_chain(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SmsConfig {
        SmsConfig {
            account_id: "AC123".into(),
            account_secret: "token".into(),
            sender: "+15005550006".into(),
            ..SmsConfig::default()
        }
    }

    #[test]
    fn aims_at_the_account_messages_endpoint() {
        let twilio = TwilioSms::new(&config()).unwrap();
        assert_eq!(
            twilio.messages_url,
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
        );
        let local = TwilioSms::new(&SmsConfig {
            api_base: "http://127.0.0.1:9/".into(),
            ..config()
        })
        .unwrap();
        assert_eq!(
            local.messages_url,
            "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json"
        );
    }

    #[test]
    fn refuses_incomplete_settings() {
        let err = TwilioSms::new(&SmsConfig {
            account_secret: String::new(),
            ..config()
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("Auth Token"), "{err}");
    }

    #[test]
    fn errors_mask_the_number_and_never_hold_the_text() {
        let message = SmsMessage {
            to: "+85291234567".into(),
            text: "Tram code 123456".into(),
            code: Some("123456".into()),
        };
        let detail = scrub(
            "Invalid 'To' Phone Number: +85291234567 (Tram code 123456, 123456)",
            &message,
        );
        assert_eq!(
            detail,
            "Invalid 'To' Phone Number: +852****4567 ([message text], [code])"
        );
    }
}
