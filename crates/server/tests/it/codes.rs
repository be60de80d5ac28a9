//! Verification codes: wrong, expired, reused, too many tries, resend
//! cooldown, and the limits per destination and per client address.

use serde_json::{json, Value};

use crate::kit::{error_code, Client, TestServer, PASSWORD};

fn send_body(destination: &str) -> Value {
    json!({ "purpose": "register", "channel": "email", "destination": destination })
}

fn register_body(destination: &str, code: &str) -> Value {
    json!({ "channel": "email", "destination": destination, "code": code, "display_name": "Test", "password": PASSWORD })
}

async fn send(c: &Client, destination: &str) -> (reqwest::StatusCode, Value) {
    c.post_json("/api/v1/codes", send_body(destination)).await
}

fn wrong(code: &str) -> String {
    // A different 6-digit code.
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn a_wrong_code_counts_and_the_sixth_try_fails_even_when_right() {
    let t = TestServer::start().await;
    let c = t.client();
    send(&c, "wrong@example.com").await;
    let code = t.last_code("wrong@example.com").await;
    for left in (1..5).rev() {
        let (status, body) = c
            .post_json(
                "/api/v1/register",
                register_body("wrong@example.com", &wrong(&code)),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(error_code(&body), "code_wrong");
        assert!(
            body["error"]["fields"]["code"]
                .as_str()
                .unwrap()
                .contains(&left.to_string()),
            "{body}"
        );
    }
    let (_, body) = c
        .post_json(
            "/api/v1/register",
            register_body("wrong@example.com", &wrong(&code)),
        )
        .await;
    assert_eq!(error_code(&body), "code_attempts_exceeded");
    // The sixth try, with the right code, is refused too.
    let (status, body) = c
        .post_json(
            "/api/v1/register",
            register_body("wrong@example.com", &code),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "code_attempts_exceeded");
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 0);
    // Each wrong try is in the audit log.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'code.failed'")
            .await,
        5
    );
    t.stop().await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let t = TestServer::start().await;
    let c = t.client();
    send(&c, "late@example.com").await;
    let code = t.last_code("late@example.com").await;
    t.advance(9 * 60 + 50);
    // Still valid just before ten minutes...
    let (status, body) = c
        .post_json(
            "/api/v1/register",
            register_body("late@example.com", &wrong(&code)),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "code_wrong"));
    t.advance(11);
    let (status, body) = c
        .post_json("/api/v1/register", register_body("late@example.com", &code))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "code_expired");
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 0);
    t.stop().await;
}

#[tokio::test]
async fn a_code_works_once() {
    let t = TestServer::start().await;
    let c = t.client();
    send(&c, "once@example.com").await;
    let code = t.last_code("once@example.com").await;
    let (status, _) = c
        .post_json("/api/v1/register", register_body("once@example.com", &code))
        .await;
    assert_eq!(status, 200);
    let (status, body) = t
        .client()
        .post_json("/api/v1/register", register_body("once@example.com", &code))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "code_invalid");
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 1);
    t.stop().await;
}

#[tokio::test]
async fn resend_waits_for_the_cooldown_and_replaces_the_old_code() {
    let t = TestServer::start().await;
    let c = t.client();
    let (status, sent) = send(&c, "again@example.com").await;
    assert_eq!(status, 200);
    assert_eq!(sent["resend_after_secs"], 60);
    assert_eq!(sent["expires_in_secs"], 600);
    let first = t.last_code("again@example.com").await;
    t.advance(30);
    let res = c
        .post("/api/v1/codes", send_body("again@example.com"))
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "30");
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "resend_too_soon");
    assert_eq!(t.count("SELECT COUNT(*) FROM verification_codes").await, 1);
    t.advance(31);
    let (status, _) = send(&c, "again@example.com").await;
    assert_eq!(status, 200);
    let second = t.last_code("again@example.com").await;
    if first != second {
        let (_, body) = c
            .post_json(
                "/api/v1/register",
                register_body("again@example.com", &first),
            )
            .await;
        assert_eq!(
            error_code(&body),
            "code_wrong",
            "the first code no longer works"
        );
    }
    let (status, _) = c
        .post_json(
            "/api/v1/register",
            register_body("again@example.com", &second),
        )
        .await;
    assert_eq!(status, 200);
    t.stop().await;
}

#[tokio::test]
async fn codes_are_limited_per_destination_and_per_client_address() {
    let t = TestServer::start_with(|c| c.security.codes_per_ip_per_hour = 8).await;
    let c = t.client();
    for _ in 0..5 {
        let (status, _) = send(&c, "busy@example.com").await;
        assert_eq!(status, 200);
        t.advance(61);
    }
    let (status, body) = send(&c, "busy@example.com").await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), "rate_limited");
    // Other destinations from the same address: 3 more, then the address limit.
    for i in 0..3 {
        let (status, _) = send(&c, &format!("other{i}@example.com")).await;
        assert_eq!(status, 200);
    }
    let (status, body) = send(&c, "other9@example.com").await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), "rate_limited");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM verification_codes WHERE destination = 'other9@example.com'")
            .await,
        0
    );
    // An hour later the destination may receive codes again.
    t.advance(3600);
    let (status, _) = send(&c, "busy@example.com").await;
    assert_eq!(status, 200);
    t.stop().await;
}

#[tokio::test]
async fn sms_codes_can_be_swapped_for_email_verification() {
    // "SMS did not arrive": the same registration continues by e-mail.
    let t = TestServer::start().await;
    let c = t.client();
    let (status, _) = c
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": "+852 6123 4567" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = send(&c, "switch@example.com").await;
    assert_eq!(
        status, 200,
        "switching channel is not held back by the SMS cooldown"
    );
    let code = t.last_code("switch@example.com").await;
    let (status, body) = c
        .post_json(
            "/api/v1/register",
            register_body("switch@example.com", &code),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    t.stop().await;
}
