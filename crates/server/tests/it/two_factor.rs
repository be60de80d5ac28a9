//! TOTP two-factor authentication: enrolment, login from untrusted devices,
//! wrong and replayed codes, recovery codes, trusted devices.

use serde_json::{json, Value};

use crate::kit::{error_code, Client, TestServer, PASSWORD};

fn code_now(t: &TestServer, secret: &str, offset_steps: i64) -> String {
    tram_accounts::totp::code_at(secret, t.clock.now_secs() + offset_steps * 30).unwrap()
}

/// Turns 2FA on for the owner; returns (secret, recovery codes).
async fn enrol(t: &TestServer, owner: &Client) -> (String, Vec<String>) {
    let (status, enrolment) = owner.post_json("/api/v1/2fa/totp/enroll", json!({})).await;
    assert_eq!(status, 200, "{enrolment}");
    assert!(enrolment["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Tram"));
    assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    let (status, body) = owner
        .post_json("/api/v1/2fa/totp/confirm", json!({ "code": "000000" }))
        .await;
    if status == 200 {
        panic!("a made-up code was accepted: {body}");
    }
    assert_eq!(error_code(&body), "totp_wrong");
    let (status, body) = owner
        .post_json(
            "/api/v1/2fa/totp/confirm",
            json!({ "code": code_now(t, &secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn challenge(t: &TestServer) -> (Client, Value) {
    let c = t.client();
    let (status, body) = c.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    (c, body)
}

#[tokio::test]
async fn a_new_device_must_pass_the_second_factor_and_is_then_trusted() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (secret, _) = enrol(&t, &owner).await;
    let (_, me) = owner.get_json("/api/v1/me").await;
    assert_eq!(me["user"]["two_factor_enabled"], true);

    let (laptop, body) = challenge(&t).await;
    assert_eq!(body["status"], "second_factor_required");
    assert!(body["token"].is_null());
    assert_eq!(
        laptop.get_json("/api/v1/me").await.0,
        401,
        "no session before the second factor"
    );

    let (status, body) = laptop
        .post_json("/api/v1/login/2fa", json!({ "code": "123123" }))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "totp_wrong"));
    t.advance(30);
    let (status, body) = laptop
        .post_json(
            "/api/v1/login/2fa",
            json!({ "code": code_now(&t, &secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(laptop.get_json("/api/v1/me").await.0, 200);

    // The same device logs in again without the second factor.
    laptop.post_json("/api/v1/logout", json!({})).await;
    let (status, body) = laptop.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "logged_in");
    let devices: Value = laptop.get_json("/api/v1/devices").await.1;
    assert!(devices
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["current"] == true && d["trusted"] == true));
    t.stop().await;
}

#[tokio::test]
async fn a_used_code_cannot_be_replayed() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (secret, _) = enrol(&t, &owner).await;
    t.advance(30);
    let code = code_now(&t, &secret, 0);
    let (a, _) = challenge(&t).await;
    let (status, _) = a
        .post_json("/api/v1/login/2fa", json!({ "code": code }))
        .await;
    assert_eq!(status, 200);
    // Someone who saw that code tries it from another device.
    let (b, _) = challenge(&t).await;
    let (status, body) = b
        .post_json("/api/v1/login/2fa", json!({ "code": code }))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "totp_replayed"));
    assert_eq!(b.get_json("/api/v1/me").await.0, 401);
    assert!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = '2fa.failure'")
            .await
            >= 1
    );
    t.stop().await;
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (_, codes) = enrol(&t, &owner).await;
    let (a, _) = challenge(&t).await;
    let (status, body) = a
        .post_json(
            "/api/v1/login/2fa",
            json!({ "code": codes[3].to_uppercase() }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (b, _) = challenge(&t).await;
    let (status, body) = b
        .post_json("/api/v1/login/2fa", json!({ "code": codes[3] }))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "totp_wrong"));
    t.stop().await;
}

#[tokio::test]
async fn the_challenge_expires_and_gives_up_after_five_wrong_codes() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (secret, _) = enrol(&t, &owner).await;
    let (a, _) = challenge(&t).await;
    for _ in 0..5 {
        a.post_json("/api/v1/login/2fa", json!({ "code": "999999" }))
            .await;
    }
    t.advance(30);
    let (status, body) = a
        .post_json(
            "/api/v1/login/2fa",
            json!({ "code": code_now(&t, &secret, 0) }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (401, "challenge_expired")
    );
    let (b, _) = challenge(&t).await;
    t.advance(301);
    let (status, body) = b
        .post_json(
            "/api/v1/login/2fa",
            json!({ "code": code_now(&t, &secret, 0) }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (401, "challenge_expired")
    );
    t.stop().await;
}

#[tokio::test]
async fn turning_two_factor_off_needs_the_password() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    enrol(&t, &owner).await;
    let (status, body) = owner
        .post_json(
            "/api/v1/2fa/totp/disable",
            json!({ "password": "not it at all" }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (401, "bad_credentials")
    );
    let (status, _) = owner
        .post_json("/api/v1/2fa/totp/disable", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, 200);
    let (_, body) = t.client().login("owner@example.com", PASSWORD).await;
    assert_eq!(body["status"], "logged_in");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind IN ('2fa.enabled', '2fa.disabled')")
            .await,
        2
    );
    t.stop().await;
}
