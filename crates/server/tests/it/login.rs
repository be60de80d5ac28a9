//! Password login: success, failure without revealing whether the account
//! exists, growing lockout, logout, password change and reset.

use serde_json::json;

use crate::kit::{error_code, TestServer, PASSWORD};

#[tokio::test]
async fn wrong_password_and_unknown_account_look_the_same() {
    let t = TestServer::start().await;
    t.setup().await;
    let c = t.client();
    let (s1, b1) = c.login("owner@example.com", "wrong password").await;
    let (s2, b2) = c.login("nobody@example.com", "wrong password").await;
    assert_eq!(s1, 401);
    assert_eq!(
        (s1, b1.clone()),
        (s2, b2),
        "responses must not tell accounts apart"
    );
    assert_eq!(error_code(&b1), "bad_credentials");
    let (status, body) = c.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().unwrap().len() > 30);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'login.failure'")
            .await,
        2
    );
    t.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_growing_periods() {
    let t = TestServer::start().await;
    t.setup().await;
    let c = t.client();
    for _ in 0..5 {
        let (status, _) = c.login("owner@example.com", "nope nope nope").await;
        assert_eq!(status, 401);
    }
    // Locked now, even with the right password.
    let (status, body) = c.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), "locked");
    // An unknown account is locked exactly the same way.
    for _ in 0..5 {
        c.login("ghost@example.com", "nope nope nope").await;
    }
    let (status, ghost) = c.login("ghost@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&ghost), "locked");
    // After the first lock (60 s) one more failure locks for twice as long.
    t.advance(61);
    let (status, _) = c.login("owner@example.com", "still wrong!").await;
    assert_eq!(status, 401);
    t.advance(100);
    let (status, _) = c.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 429, "the second lock lasts 120 s");
    t.advance(21);
    let (status, _) = c.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    assert!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'login.locked'")
            .await
            >= 2
    );
    t.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (status, _) = owner.get_json("/api/v1/me").await;
    assert_eq!(status, 200);
    let (status, _) = owner.post_json("/api/v1/logout", json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = owner.get_json("/api/v1/me").await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "unauthenticated");
    t.stop().await;
}

#[tokio::test]
async fn bearer_tokens_work_for_api_clients_without_csrf() {
    let t = TestServer::start().await;
    t.setup().await;
    let (_, body) = t.client().login("owner@example.com", PASSWORD).await;
    let token = body["token"].as_str().unwrap();
    let api = reqwest::Client::new();
    let me: serde_json::Value = api
        .get(format!("{}/api/v1/me", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "owner@example.com");
    let res = api
        .post(format!("{}/api/v1/org/departments", t.base))
        .bearer_auth(token)
        .json(&json!({ "name": "財務部" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    t.stop().await;
}

#[tokio::test]
async fn state_changes_without_the_csrf_token_are_refused_and_change_nothing() {
    let t = TestServer::start().await;
    let c = t.client();
    c.csrf().await;
    // A form post from another site: the cookie travels, the token does not.
    let res = c
        .http
        .post(c.url("/api/v1/setup"))
        .json(&json!({ "org_name": "X", "display_name": "X", "email": "x@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "csrf_failed");
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 0);
    // A wrong token is refused too, also for urlencoded forms.
    let res = c
        .http
        .post(c.url("/logout"))
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    t.stop().await;
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let laptop = t.client();
    laptop.login("owner@example.com", PASSWORD).await;
    let (status, body) = owner
        .post_json(
            "/api/v1/me/password",
            json!({ "current_password": "wrong password", "new_password": "new password 1" }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (401, "bad_credentials")
    );
    let (status, _) = owner
        .post_json(
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "new_password": "new password 1" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(laptop.get_json("/api/v1/me").await.0, 401);
    assert_eq!(owner.get_json("/api/v1/me").await.0, 200);
    assert_eq!(t.client().login("owner@example.com", PASSWORD).await.0, 401);
    assert_eq!(
        t.client()
            .login("owner@example.com", "new password 1")
            .await
            .0,
        200
    );
    t.stop().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_a_code() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let c = t.client();
    let (status, _) = c
        .post_json("/api/v1/codes", json!({ "purpose": "reset_password", "channel": "email", "destination": "owner@example.com" }))
        .await;
    assert_eq!(status, 200);
    let code = t.last_code("owner@example.com").await;
    let (status, _) = c
        .post_json(
            "/api/v1/password/reset",
            json!({ "channel": "email", "destination": "owner@example.com", "code": code, "new_password": "brand new pass" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        owner.get_json("/api/v1/me").await.0,
        401,
        "old sessions end"
    );
    assert_eq!(
        t.client()
            .login("owner@example.com", "brand new pass")
            .await
            .0,
        200
    );
    t.stop().await;
}

#[tokio::test]
async fn errors_speak_the_users_language() {
    let t = TestServer::start().await;
    let c = t.client();
    let res = c
        .http
        .post(c.url("/api/v1/login"))
        .header("x-csrf-token", c.csrf().await)
        .header("accept-language", "en-GB,en;q=0.9")
        .json(&json!({ "identifier": "nobody@example.com", "password": "whatever1" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Wrong account or password.");
    let (_, body) = c.login("nobody@example.com", "whatever1").await;
    assert_eq!(body["error"]["message"], "帳戶或密碼不正確。");
    t.stop().await;
}

#[tokio::test]
async fn idle_and_old_sessions_end() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    // Fourteen idle days end a session...
    t.advance(13 * 86_400);
    assert_eq!(
        owner.get_json("/api/v1/me").await.0,
        200,
        "still alive after 13 idle days"
    );
    t.advance(13 * 86_400);
    assert_eq!(
        owner.get_json("/api/v1/me").await.0,
        200,
        "activity renewed it"
    );
    // ...and no session outlives 30 days, however active.
    t.advance(5 * 86_400);
    let (status, _) = owner.get_json("/api/v1/me").await;
    assert_eq!(status, 401);
    t.stop().await;
}
