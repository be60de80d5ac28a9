//! QR-code login: the phone confirms, the waiting browser hears it within a
//! second over SSE and logs in; tickets expire, work once, and belong to
//! the browser that asked.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::kit::{error_code, Client, TestServer, PASSWORD};

const PHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

async fn phone(t: &TestServer) -> Client {
    let phone = Client::with_agent(&t.base, PHONE_UA);
    let (status, _) = phone.login("owner@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    phone
}

/// Creates a ticket in `browser`; returns (ticket id, scan token).
async fn ticket(browser: &Client) -> (String, String) {
    let (status, body) = browser.post_json("/api/v1/qr/tickets", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["qr_svg"].as_str().unwrap().starts_with("<?xml")
            || body["qr_svg"].as_str().unwrap().contains("<svg")
    );
    let scan_url = body["scan_url"].as_str().unwrap();
    let token = scan_url.rsplit('/').next().unwrap().to_string();
    (body["ticket_id"].as_str().unwrap().to_string(), token)
}

#[tokio::test]
async fn a_confirmed_ticket_logs_the_waiting_browser_in_within_a_second() {
    let t = TestServer::start().await;
    t.setup().await;
    let phone = phone(&t).await;
    let browser = t.client();
    let (id, token) = ticket(&browser).await;

    // The browser waits on the event stream.
    let res = browser
        .get(&format!("/api/v1/qr/tickets/{id}/events"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut events = res.bytes_stream();
    let mut seen = String::new();
    let mut next_status = async |seen: &mut String| -> String {
        loop {
            if let Some(pos) = seen.find("event: status\ndata: ") {
                let rest = &seen[pos + 20..];
                if let Some(end) = rest.find('\n') {
                    let status = rest[..end].to_string();
                    *seen = rest[end..].to_string();
                    return status;
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), events.next())
                .await
                .expect("event in time");
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
        }
    };
    assert_eq!(next_status(&mut seen).await, "pending");

    // The phone sees who is asking.
    let (status, view) = phone.get_json(&format!("/api/v1/qr/scan/{token}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["browser"], "Chrome 120");
    assert!(view["os"].as_str().unwrap().starts_with("Windows"));
    assert_eq!(view["ip"], "127.0.0.1");
    assert_eq!(next_status(&mut seen).await, "scanned");

    let confirmed_at = Instant::now();
    let (status, _) = phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(next_status(&mut seen).await, "confirmed");
    let (status, body) = browser
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    let elapsed = confirmed_at.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "logged_in");
    assert!(
        elapsed < Duration::from_secs(1),
        "logged in {elapsed:?} after the confirmation"
    );
    let (status, me) = browser.get_json("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["email"], "owner@example.com");

    // The ticket works once.
    let (status, body) = browser
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    assert_eq!(status, 403, "the browser key cookie was spent: {body}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'qr.confirmed'")
            .await,
        1
    );
    t.stop().await;
}

#[tokio::test]
async fn a_ticket_cannot_be_used_twice_even_with_its_browser_key() {
    let t = TestServer::start().await;
    t.setup().await;
    let phone = phone(&t).await;
    let browser = t.client();
    let (status, body) = browser.post_json("/api/v1/qr/tickets", json!({})).await;
    assert_eq!(status, 200);
    let id = body["ticket_id"].as_str().unwrap();
    let key = body["browser_key"].as_str().unwrap();
    let token = body["scan_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    let http = reqwest::Client::new();
    let exchange = || {
        http.post(format!("{}/api/v1/qr/tickets/{id}/login", t.base))
            .header("x-qr-browser-key", key)
            .header("authorization", "Bearer none")
            .send()
    };
    assert_eq!(exchange().await.unwrap().status(), 200);
    let second = exchange().await.unwrap();
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert_eq!(error_code(&body), "qr_used");
    // And the phone cannot confirm it again.
    let (status, body) = phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (409, "qr_used"));
    t.stop().await;
}

#[tokio::test]
async fn an_expired_ticket_can_be_neither_confirmed_nor_used() {
    let t = TestServer::start().await;
    t.setup().await;
    let phone = phone(&t).await;
    let browser = t.client();
    let (id, token) = ticket(&browser).await;
    t.advance(121);
    let (status, body) = phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (410, "qr_expired"));
    let (_, status_body) = browser.get_json(&format!("/api/v1/qr/tickets/{id}")).await;
    assert_eq!(status_body["status"], "expired");
    let (status, body) = browser
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (410, "qr_expired"));
    t.stop().await;
}

#[tokio::test]
async fn confirming_after_login_expiry_races_are_refused() {
    // Confirmed in time, but exchanged after the two minutes: refused.
    let t = TestServer::start().await;
    t.setup().await;
    let phone = phone(&t).await;
    let browser = t.client();
    let (id, token) = ticket(&browser).await;
    phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    t.advance(121);
    let (status, body) = browser
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (410, "qr_expired"));
    t.stop().await;
}

#[tokio::test]
async fn a_logged_out_phone_cannot_confirm() {
    let t = TestServer::start().await;
    t.setup().await;
    let browser = t.client();
    let (id, token) = ticket(&browser).await;
    let stranger = Client::with_agent(&t.base, PHONE_UA);
    let (status, body) = stranger.get_json(&format!("/api/v1/qr/scan/{token}")).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (401, "unauthenticated")
    );
    let (status, _) = stranger
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    assert_eq!(status, 401);
    let (_, status_body) = browser.get_json(&format!("/api/v1/qr/tickets/{id}")).await;
    assert_eq!(status_body["status"], "pending");
    t.stop().await;
}

#[tokio::test]
async fn the_confirm_page_sends_a_logged_out_phone_to_log_in_first() {
    let t = TestServer::start().await;
    t.setup().await;
    let browser = t.client();
    let (_, token) = ticket(&browser).await;
    let stranger = Client::with_agent(&t.base, PHONE_UA);
    let res = stranger
        .http
        .get(stranger.url(&format!("/qr/{token}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next=%2Fqr%2F"));
    t.stop().await;
}

#[tokio::test]
async fn a_ticket_belongs_to_the_browser_that_asked() {
    let t = TestServer::start().await;
    t.setup().await;
    let phone = phone(&t).await;
    let browser = t.client();
    let (id, token) = ticket(&browser).await;
    phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": true }),
        )
        .await;
    // Another browser that learned the ticket id (not its key) gets nothing.
    let thief = t.client();
    let (status, body) = thief
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (403, "qr_wrong_browser")
    );
    let (status, _) = thief.get_json(&format!("/api/v1/qr/tickets/{id}")).await;
    assert_eq!(status, 403);
    assert_eq!(thief.get_json("/api/v1/me").await.0, 401);
    // The right browser still can.
    let (status, _) = browser
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    assert_eq!(status, 200);
    t.stop().await;
}

#[tokio::test]
async fn a_rejected_ticket_does_not_log_in() {
    let t = TestServer::start().await;
    t.setup().await;
    let phone = phone(&t).await;
    let browser = t.client();
    let (id, token) = ticket(&browser).await;
    let (status, _) = phone
        .post_json(
            &format!("/api/v1/qr/scan/{token}"),
            json!({ "approve": false }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = browser
        .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "qr_rejected"));
    assert_eq!(browser.get_json("/api/v1/me").await.0, 401);
    t.stop().await;
}
