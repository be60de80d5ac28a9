//! The real SMS providers and SMTP e-mail, driven through `Notifier` over
//! loopback against the stand-ins in tram-testkit, which check requests the
//! way Twilio, Alibaba Cloud and an SMTP server do.

use std::time::Duration;

use tram_platform::clock::Clock;
use tram_platform::config::{Config, SmsConfig, SmsProviderKind, SmtpConfig, SmtpTls};
use tram_platform::db::Db;
use tram_platform::notify::{EmailMessage, Notifier, NotifyError, SmsMessage};
use tram_testkit::{AliyunStandIn, SmtpSink, TwilioStandIn};

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-auth-token";
const ALIYUN_KEY_ID: &str = "LTAI5tTestKeyId";
const ALIYUN_SECRET: &str = "aliyun-key-secret";

/// A notifier outside development mode, so nothing touches the outbox table.
async fn notifier(config: Config) -> Result<Notifier, NotifyError> {
    let db = Db::connect("sqlite::memory:")
        .await
        .expect("in-memory database");
    Notifier::from_config(&config, &db, &Clock::system())
}

fn production(sms: SmsConfig, smtp: SmtpConfig) -> Config {
    Config {
        dev_mode: false,
        sms,
        smtp,
        ..Config::default()
    }
}

fn twilio_config(api_base: String, token: &str) -> SmsConfig {
    SmsConfig {
        provider: SmsProviderKind::Twilio,
        api_base,
        account_id: TWILIO_SID.into(),
        account_secret: token.into(),
        sender: "+15005550006".into(),
        ..SmsConfig::default()
    }
}

fn aliyun_config(api_base: String, secret: &str) -> SmsConfig {
    SmsConfig {
        provider: SmsProviderKind::Aliyun,
        api_base,
        account_id: ALIYUN_KEY_ID.into(),
        account_secret: secret.into(),
        sender: "Tram".into(),
        template_code: "SMS_465000123".into(),
        region: "cn-hongkong".into(),
    }
}

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        from: "Tram 通知 <no-reply@tram.test>".into(),
        ..SmtpConfig::default()
    }
}

fn code_sms(to: &str) -> SmsMessage {
    SmsMessage {
        to: to.into(),
        text: "【Tram】你的驗證碼是 482916，十分鐘內有效。".into(),
        code: Some("482916".into()),
    }
}

fn provider_detail(result: Result<(), NotifyError>, provider: &str) -> String {
    match result {
        Err(NotifyError::Provider {
            provider: name,
            detail,
        }) if name == provider => detail,
        other => panic!("expected a {provider} error, got {other:?}"),
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn twilio_sends_the_text_from_the_configured_number() {
    let twilio = TwilioStandIn::start(TWILIO_SID, TWILIO_TOKEN).await;
    let config = production(
        twilio_config(twilio.base_url(), TWILIO_TOKEN),
        SmtpConfig::default(),
    );
    let notifier = notifier(config).await.unwrap();
    assert_eq!(notifier.sms_provider(), "twilio");

    notifier.send_sms(code_sms("+85291234567")).await.unwrap();

    let sent = twilio.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+85291234567");
    assert_eq!(sent[0].from, "+15005550006");
    assert_eq!(sent[0].body, "【Tram】你的驗證碼是 482916，十分鐘內有效。");
}

#[tokio::test]
async fn twilio_refusals_carry_twilios_code_and_never_the_text() {
    let twilio = TwilioStandIn::start(TWILIO_SID, TWILIO_TOKEN).await;
    let wrong_token = production(
        twilio_config(twilio.base_url(), "not-the-token"),
        SmtpConfig::default(),
    );
    let notifier = notifier(wrong_token).await.unwrap();
    let detail = provider_detail(notifier.send_sms(code_sms("+85291234567")).await, "twilio");
    assert!(
        detail.contains("error 20003 (HTTP 401): Authenticate"),
        "{detail}"
    );
    assert!(!detail.contains("482916"), "{detail}");
    assert!(twilio.messages().is_empty());

    let right_token = production(
        twilio_config(twilio.base_url(), TWILIO_TOKEN),
        SmtpConfig::default(),
    );
    let notifier = self::notifier(right_token).await.unwrap();
    twilio.fail_next(400, 21211, "Invalid 'To' Phone Number: +85291234567");
    let detail = provider_detail(notifier.send_sms(code_sms("+85291234567")).await, "twilio");
    assert!(detail.contains("21211"), "{detail}");
    assert!(detail.contains("+852****4567"), "{detail}");
    assert!(
        !detail.contains("+85291234567"),
        "the number is masked: {detail}"
    );
}

#[tokio::test]
async fn twilio_unreachable_is_a_clear_error() {
    let config = production(
        twilio_config(format!("http://127.0.0.1:{}", closed_port()), TWILIO_TOKEN),
        SmtpConfig::default(),
    );
    let notifier = notifier(config).await.unwrap();
    let detail = provider_detail(notifier.send_sms(code_sms("+85291234567")).await, "twilio");
    assert!(
        detail.starts_with("could not reach the API: could not connect"),
        "{detail}"
    );
}

#[tokio::test]
async fn twilio_needs_its_credentials() {
    let mut sms = twilio_config(String::new(), TWILIO_TOKEN);
    sms.sender.clear();
    let err = notifier(production(sms, SmtpConfig::default()))
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, NotifyError::Config(_)), "{err}");
    assert!(err.to_string().contains("sms.sender"), "{err}");
}

#[tokio::test]
async fn aliyun_sends_a_signed_template_request_in_the_documented_number_formats() {
    let aliyun = AliyunStandIn::start(ALIYUN_KEY_ID, ALIYUN_SECRET).await;
    let config = production(
        aliyun_config(aliyun.base_url(), ALIYUN_SECRET),
        SmtpConfig::default(),
    );
    let notifier = notifier(config).await.unwrap();
    assert_eq!(notifier.sms_provider(), "aliyun");

    // Hong Kong: country code and number without "+"; mainland: 11 digits.
    notifier.send_sms(code_sms("+85291234567")).await.unwrap();
    notifier.send_sms(code_sms("+8613800138000")).await.unwrap();

    let sent = aliyun.messages();
    assert_eq!(sent.len(), 2, "each request has a fresh nonce");
    assert_eq!(sent[0].phone_numbers, "85291234567");
    assert_eq!(sent[1].phone_numbers, "13800138000");
    assert_eq!(sent[0].sign_name, "Tram");
    assert_eq!(sent[0].template_code, "SMS_465000123");
    assert_eq!(sent[0].region_id.as_deref(), Some("cn-hongkong"));
    assert_eq!(
        sent[0].template_param.as_deref(),
        Some(r#"{"code":"482916"}"#)
    );
}

#[tokio::test]
async fn aliyun_signature_errors_name_the_code_without_leaking_the_request() {
    let aliyun = AliyunStandIn::start(ALIYUN_KEY_ID, ALIYUN_SECRET).await;
    let config = production(
        aliyun_config(aliyun.base_url(), "another-secret"),
        SmtpConfig::default(),
    );
    let notifier = notifier(config).await.unwrap();
    let detail = provider_detail(notifier.send_sms(code_sms("+85291234567")).await, "aliyun");
    assert!(
        detail.starts_with("SignatureDoesNotMatch (HTTP 400)"),
        "{detail}"
    );
    // The stand-in, like Alibaba, appends its string-to-sign (with the code).
    assert!(!detail.contains("482916"), "{detail}");
    assert!(!detail.contains("string to sign"), "{detail}");
    assert!(aliyun.messages().is_empty());
}

#[tokio::test]
async fn aliyun_business_errors_and_messages_without_a_code() {
    let aliyun = AliyunStandIn::start(ALIYUN_KEY_ID, ALIYUN_SECRET).await;
    let config = production(
        aliyun_config(aliyun.base_url(), ALIYUN_SECRET),
        SmtpConfig::default(),
    );
    let notifier = notifier(config).await.unwrap();

    aliyun.fail_next(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1");
    let detail = provider_detail(notifier.send_sms(code_sms("+85291234567")).await, "aliyun");
    assert!(
        detail.starts_with("isv.BUSINESS_LIMIT_CONTROL (HTTP 200)"),
        "{detail}"
    );

    let without_code = SmsMessage {
        to: "+85291234567".into(),
        text: "你的審批已通過".into(),
        code: None,
    };
    let detail = provider_detail(notifier.send_sms(without_code).await, "aliyun");
    assert!(detail.contains("only verification codes"), "{detail}");
    assert!(aliyun.messages().is_empty());
}

#[tokio::test]
async fn smtp_delivers_traditional_chinese_that_reads_back_intact() {
    let sink = SmtpSink::start().await;
    let notifier = notifier(production(SmsConfig::default(), smtp_config(sink.port())))
        .await
        .unwrap();
    assert!(notifier.email_available());

    let text = "陳大文你好：\n\n你的 Tram 登入驗證碼是 482916，十分鐘內有效。\n如非本人操作，請忽略此電郵。";
    notifier
        .send_email(EmailMessage {
            to: "chan.taiman@example.hk".into(),
            subject: "Tram 登入驗證碼（請勿轉發）".into(),
            text: text.into(),
        })
        .await
        .unwrap();

    let mail = sink
        .wait_for(
            |m| m.recipients == ["chan.taiman@example.hk"],
            Duration::from_secs(10),
        )
        .await
        .expect("the sink received the mail");
    assert_eq!(mail.from, "no-reply@tram.test");
    assert_eq!(mail.subject(), "Tram 登入驗證碼（請勿轉發）");
    assert!(mail.header("From").unwrap().contains("Tram 通知"));
    assert!(mail
        .header("Content-Type")
        .unwrap()
        .to_ascii_lowercase()
        .contains("charset=utf-8"));
    assert_eq!(mail.text_body().replace("\r\n", "\n"), text);
    assert_eq!(mail.code().as_deref(), Some("482916"));
    // The raw message is 7-bit: the Chinese went through an encoding.
    assert!(mail.data.is_ascii());
}

#[tokio::test]
async fn smtp_logs_in_with_the_configured_credentials() {
    let sink = SmtpSink::start_requiring_auth("mailer", "mail-password").await;
    let message = || EmailMessage {
        to: "ada@example.com".into(),
        subject: "密碼重設".into(),
        text: "驗證碼 135790".into(),
    };

    let mut smtp = smtp_config(sink.port());
    smtp.username = "mailer".into();
    smtp.password = "wrong-password".into();
    let refused = notifier(production(SmsConfig::default(), smtp.clone()))
        .await
        .unwrap();
    let detail = provider_detail(refused.send_email(message()).await, "smtp");
    assert!(detail.contains("535"), "{detail}");
    assert!(!detail.contains("135790"), "{detail}");

    smtp.password = "mail-password".into();
    let accepted = notifier(production(SmsConfig::default(), smtp))
        .await
        .unwrap();
    accepted.send_email(message()).await.unwrap();
    let mail = &sink.messages()[0];
    assert_eq!(mail.authenticated_as.as_deref(), Some("mailer"));
    assert_eq!(mail.code().as_deref(), Some("135790"));
}

#[tokio::test]
async fn smtp_server_not_listening_is_a_clear_error() {
    let port = closed_port();
    let notifier = notifier(production(SmsConfig::default(), smtp_config(port)))
        .await
        .unwrap();
    let detail = provider_detail(
        notifier
            .send_email(EmailMessage {
                to: "ada@example.com".into(),
                subject: "驗證碼".into(),
                text: "驗證碼 246810".into(),
            })
            .await,
        "smtp",
    );
    assert!(
        detail.starts_with(&format!("could not deliver through 127.0.0.1:{port}: ")),
        "{detail}"
    );
    assert!(detail.to_lowercase().contains("connect"), "{detail}");
    assert!(!detail.contains("246810"), "{detail}");
}

#[tokio::test]
async fn development_mode_with_smtp_still_delivers_over_smtp() {
    let sink = SmtpSink::start().await;
    let config = Config {
        dev_mode: true,
        smtp: smtp_config(sink.port()),
        ..Config::default()
    };
    // Without the outbox table the copy only logs a warning; the mail must
    // still go out over SMTP.
    let notifier = notifier(config).await.unwrap();
    notifier
        .send_email(EmailMessage {
            to: "dev@example.com".into(),
            subject: "開發模式".into(),
            text: "驗證碼 975310".into(),
        })
        .await
        .unwrap();
    let mail = sink
        .wait_for(|m| m.subject() == "開發模式", Duration::from_secs(10))
        .await
        .expect("delivered over SMTP in development mode too");
    assert_eq!(mail.code().as_deref(), Some("975310"));
}

#[tokio::test]
async fn without_smtp_outside_development_mode_email_is_unavailable() {
    let notifier = notifier(production(SmsConfig::default(), SmtpConfig::default()))
        .await
        .unwrap();
    assert!(!notifier.email_available());
    let result = notifier
        .send_email(EmailMessage {
            to: "ada@example.com".into(),
            subject: "x".into(),
            text: "y".into(),
        })
        .await;
    assert!(matches!(result, Err(NotifyError::EmailUnavailable)));
}
