//! Outgoing SMS and e-mail. SMS goes through one [`SmsProvider`] chosen by
//! configuration (console, Twilio, Alibaba Cloud); e-mail over SMTP. In
//! development mode every message is also written to the outbox, which
//! server admins read at /admin/outbox.

mod aliyun;
mod console;
mod outbox;
mod smtp;
mod twilio;

pub use outbox::{list_outbox, OutboxEntry};

use std::sync::Arc;

use crate::config::{Config, SmsProviderKind};
use crate::db::Db;

/// One text message to a mobile number.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    /// E.164, e.g. `+85291234567`.
    pub to: String,
    /// The whole text, for providers that send free text.
    pub text: String,
    /// The verification code alone, for template-based providers (Aliyun
    /// fills it into the configured template's `${code}`).
    pub code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The provider refused or could not be reached. `detail` never holds
    /// the message text (it may contain a code).
    #[error("{provider} did not accept the message: {detail}")]
    Provider {
        provider: &'static str,
        detail: String,
    },
    #[error("no e-mail server is configured")]
    EmailUnavailable,
    #[error("the notification settings are invalid: {0}")]
    Config(String),
}

#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync {
    fn name(&self) -> &'static str;
    async fn send(&self, message: &SmsMessage) -> Result<(), NotifyError>;
}

#[async_trait::async_trait]
pub trait EmailTransport: Send + Sync {
    async fn send(&self, message: &EmailMessage) -> Result<(), NotifyError>;
}

#[derive(Clone)]
pub struct Notifier {
    sms: Arc<dyn SmsProvider>,
    email: Option<Arc<dyn EmailTransport>>,
    /// Set in development mode: every message is copied here.
    outbox: Option<Db>,
    clock: crate::clock::Clock,
}

impl Notifier {
    pub fn from_config(
        config: &Config,
        db: &Db,
        clock: &crate::clock::Clock,
    ) -> Result<Notifier, NotifyError> {
        let sms: Arc<dyn SmsProvider> = match config.sms.provider {
            SmsProviderKind::Console => Arc::new(console::ConsoleSms {
                show_text: config.dev_mode,
            }),
            SmsProviderKind::Twilio => Arc::new(twilio::TwilioSms::new(&config.sms)?),
            SmsProviderKind::Aliyun => Arc::new(aliyun::AliyunSms::new(&config.sms)?),
        };
        let email: Option<Arc<dyn EmailTransport>> = if config.smtp.host.trim().is_empty() {
            None
        } else {
            Some(Arc::new(smtp::SmtpEmail::new(&config.smtp)?))
        };
        Ok(Notifier {
            sms,
            email,
            outbox: config.dev_mode.then(|| db.clone()),
            clock: clock.clone(),
        })
    }

    pub fn sms_provider(&self) -> &'static str {
        self.sms.name()
    }

    /// Whether e-mail can reach anyone: an SMTP server or the dev outbox.
    pub fn email_available(&self) -> bool {
        self.email.is_some() || self.outbox.is_some()
    }

    pub async fn send_sms(&self, message: SmsMessage) -> Result<(), NotifyError> {
        if let Some(db) = &self.outbox {
            outbox::store(
                db,
                self.clock.now_ms(),
                "sms",
                &message.to,
                "",
                &message.text,
            )
            .await;
        }
        self.sms.send(&message).await
    }

    pub async fn send_email(&self, message: EmailMessage) -> Result<(), NotifyError> {
        if let Some(db) = &self.outbox {
            outbox::store(
                db,
                self.clock.now_ms(),
                "email",
                &message.to,
                &message.subject,
                &message.text,
            )
            .await;
        }
        match &self.email {
            Some(transport) => transport.send(&message).await,
            None if self.outbox.is_some() => Ok(()),
            None => Err(NotifyError::EmailUnavailable),
        }
    }
}

/// `+85291234567` → `+852****4567`, `ada@example.com` → `a***@example.com`:
/// enough for a log line or an audit entry, not enough to contact anyone.
pub fn mask_destination(destination: &str) -> String {
    if let Some((local, domain)) = destination.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = destination.chars().collect();
    if chars.len() <= 8 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask_destination;

    #[test]
    fn masks_phones_and_emails() {
        assert_eq!(mask_destination("+85291234567"), "+852****4567");
        assert_eq!(mask_destination("ada@example.com"), "a***@example.com");
        assert_eq!(mask_destination("123"), "****");
    }
}
