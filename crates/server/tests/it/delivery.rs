//! Codes delivered by the real transports outside development mode: e-mail
//! over an SMTP conversation with a local sink, SMS through the Twilio and
//! Alibaba Cloud providers aimed at local stand-ins. Nothing is written to
//! the outbox, and a provider failure leaves no code behind.

use std::time::Duration;

use serde_json::json;
use tram_platform::config::{SmsProviderKind, SmtpTls};
use tram_testkit::{AliyunStandIn, SmtpSink, TwilioStandIn};

use crate::kit::{error_code, find_code, TestServer, PASSWORD};

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "twilio-secret-token";

async fn production_server(smtp: &SmtpSink, twilio: &TwilioStandIn) -> TestServer {
    let (host, port, base) = (smtp.host(), smtp.port(), twilio.base_url());
    TestServer::start_with(move |config| {
        config.dev_mode = false;
        config.smtp.host = host;
        config.smtp.port = port;
        config.smtp.tls = SmtpTls::None;
        config.smtp.from = "Tram <no-reply@tram.test>".into();
        config.sms.provider = SmsProviderKind::Twilio;
        config.sms.api_base = base;
        config.sms.account_id = SID.into();
        config.sms.account_secret = TOKEN.into();
        config.sms.sender = "+15005550006".into();
    })
    .await
}

#[tokio::test]
async fn register_by_email_with_the_code_from_a_real_smtp_conversation() {
    let smtp = SmtpSink::start().await;
    let twilio = TwilioStandIn::start(SID, TOKEN).await;
    let t = production_server(&smtp, &twilio).await;
    t.setup().await;
    let client = t.client();
    let (status, body) = client
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "email", "destination": "mei@example.com" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp
        .wait_for(
            |m| m.recipients.iter().any(|r| r == "mei@example.com"),
            Duration::from_secs(5),
        )
        .await
        .expect("the code arrives at the SMTP sink");
    assert_eq!(mail.from, "no-reply@tram.test");
    let code = mail.code().expect("the mail holds a 6-digit code");
    let (status, body) = client
        .post_json(
            "/api/v1/register",
            json!({ "channel": "email", "destination": "mei@example.com", "code": code,
                    "display_name": "何美玲", "password": PASSWORD, "company_name": "美玲設計" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "mei@example.com");
    // Outside development mode nothing is copied to the outbox.
    assert_eq!(t.count("SELECT COUNT(*) FROM dev_outbox").await, 0);
    t.stop().await;
}

#[tokio::test]
async fn register_by_phone_with_the_code_sent_through_twilio() {
    let smtp = SmtpSink::start().await;
    let twilio = TwilioStandIn::start(SID, TOKEN).await;
    let t = production_server(&smtp, &twilio).await;
    t.setup().await;
    let client = t.client();
    let (status, body) = client
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": "6123 4567" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = twilio.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+85261234567");
    assert_eq!(sent[0].from, "+15005550006");
    let code = find_code(&sent[0].body).expect("the SMS holds a code");
    let (status, body) = client
        .post_json(
            "/api/v1/register",
            json!({ "channel": "sms", "destination": "+85261234567", "code": code,
                    "display_name": "張偉", "password": PASSWORD, "company_name": "偉記" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["phone"], "+85261234567");
    t.stop().await;
}

#[tokio::test]
async fn a_provider_refusal_is_a_clear_error_and_leaves_no_code() {
    let smtp = SmtpSink::start().await;
    let twilio = TwilioStandIn::start(SID, TOKEN).await;
    let t = production_server(&smtp, &twilio).await;
    t.setup().await;
    twilio.fail_next(400, 21211, "The 'To' number is not a valid phone number.");
    let client = t.client();
    let (status, body) = client
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": "6123 4567" }),
        )
        .await;
    assert!(status.is_server_error(), "{status} {body}");
    assert_eq!(error_code(&body), "delivery_failed", "{body}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM verification_codes").await,
        0,
        "an undelivered code is taken back"
    );
    // Not held against the cooldown: the next try goes out at once.
    let (status, body) = client
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": "6123 4567" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(twilio.messages().len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn aliyun_sends_the_code_into_the_template() {
    let aliyun = AliyunStandIn::start("LTAI5tTramTest", "aliyun-secret").await;
    let base = aliyun.base_url();
    let t = TestServer::start_with(move |config| {
        config.dev_mode = false;
        config.sms.provider = SmsProviderKind::Aliyun;
        config.sms.api_base = base;
        config.sms.account_id = "LTAI5tTramTest".into();
        config.sms.account_secret = "aliyun-secret".into();
        config.sms.sender = "Tram".into();
        config.sms.template_code = "SMS_465000123".into();
    })
    .await;
    t.setup().await;
    let (status, body) = t
        .client()
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": "+85291234567" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = aliyun.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].template_code, "SMS_465000123");
    assert_eq!(sent[0].sign_name, "Tram");
    let code = sent[0].template_value("code").expect("a code parameter");
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    t.stop().await;
}
