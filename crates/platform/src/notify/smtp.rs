//! E-mail over SMTP with lettre: plain text in UTF-8 (subjects and bodies
//! are often Traditional Chinese; lettre encodes them as RFC 2047 words and
//! quoted-printable or base64). One connection per message: codes are
//! rare enough that a pool would only hold idle connections open.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{mask_destination, EmailMessage, EmailTransport, NotifyError};
use crate::config::{SmtpConfig, SmtpTls};

const PROVIDER: &str = "smtp";

pub struct SmtpEmail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for error messages.
    server: String,
}

impl SmtpEmail {
    /// Checks the settings; connects only when a message is sent.
    pub fn new(config: &SmtpConfig) -> Result<SmtpEmail, NotifyError> {
        let host = config.host.trim();
        if host.is_empty() {
            return Err(NotifyError::Config("smtp.host is empty".into()));
        }
        let from: Mailbox = config.from.parse().map_err(|err| {
            NotifyError::Config(format!("smtp.from is not a valid address: {err}"))
        })?;
        let tls_error = |err: lettre::transport::smtp::Error| {
            NotifyError::Config(format!("could not set up TLS for {host}: {err}"))
        };
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls_error)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_error)?,
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(10)));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.clone(),
            ));
        }
        Ok(SmtpEmail {
            transport: builder.build(),
            from,
            server: format!("{host}:{}", config.port),
        })
    }

    fn error(&self, detail: String) -> NotifyError {
        NotifyError::Provider {
            provider: PROVIDER,
            detail,
        }
    }
}

#[async_trait::async_trait]
impl EmailTransport for SmtpEmail {
    async fn send(&self, message: &EmailMessage) -> Result<(), NotifyError> {
        let to: Mailbox = message.to.parse().map_err(|_| {
            self.error(format!(
                "{} is not a valid recipient address",
                mask_destination(&message.to)
            ))
        })?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.clone())
            .map_err(|err| self.error(format!("could not build the message: {err}")))?;
        // lettre's errors carry the server's reply or the network cause,
        // never the message itself.
        self.transport.send(email).await.map_err(|err| {
            self.error(format!("could not deliver through {}: {err}", self.server))
        })?;
        tracing::info!(to = %mask_destination(&message.to), "e-mail accepted by the SMTP server");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tls: SmtpTls) -> SmtpConfig {
        SmtpConfig {
            host: "mail.example.com".into(),
            tls,
            ..SmtpConfig::default()
        }
    }

    #[test]
    fn builds_for_every_tls_mode_without_connecting() {
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            assert!(SmtpEmail::new(&config(tls)).is_ok());
        }
    }

    #[test]
    fn refuses_a_bad_sender() {
        let err = SmtpEmail::new(&SmtpConfig {
            from: "not an address".into(),
            ..config(SmtpTls::None)
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("smtp.from"), "{err}");
    }
}
