//! The shell: health check, the OpenAPI document and its browser, static
//! files, security headers, the development outbox.

use crate::kit::TestServer;

#[tokio::test]
async fn health_api_docs_and_headers() {
    let t = TestServer::start().await;
    let c = t.client();
    let res = c.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));

    let (status, doc) = c.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/codes",
        "/api/v1/register",
        "/api/v1/login",
        "/api/v1/login/2fa",
        "/api/v1/qr/tickets",
        "/api/v1/qr/tickets/{id}",
        "/api/v1/qr/scan/{token}",
        "/api/v1/2fa/totp/enroll",
        "/api/v1/devices",
        "/api/v1/org/members",
        "/api/v1/org/audit",
        "/healthz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let docs = c.get("/api/docs").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("/static/swagger-ui-bundle.js"));
    assert_eq!(c.get("/static/swagger-ui-bundle.js").await.status(), 200);
    assert_eq!(c.get("/static/htmx.min.js").await.status(), 200);
    assert_eq!(c.get("/static/nope.js").await.status(), 404);
    t.stop().await;
}

#[tokio::test]
async fn the_outbox_is_for_server_admins_in_development_mode_only() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let staff = t
        .register_email("staff@example.com", "Staff", Some("Other"), None)
        .await;
    let (status, entries) = owner
        .get_json("/api/v1/dev/outbox?to=staff@example.com")
        .await;
    assert_eq!(status, 200);
    assert!(entries[0]["body"].as_str().unwrap().contains("驗證碼"));
    assert_eq!(staff.get_json("/api/v1/dev/outbox").await.0, 403);
    t.stop().await;

    let prod = TestServer::start_with(|c| c.dev_mode = false).await;
    let owner = prod.setup().await;
    assert_eq!(owner.get_json("/api/v1/dev/outbox").await.0, 404);
    prod.stop().await;
}

#[tokio::test]
async fn every_script_a_page_loads_is_served() {
    let t = TestServer::start().await;
    t.setup().await;
    let c = t.client();
    let html = c.get("/login?mode=qr").await.text().await.unwrap();
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|src| src.starts_with("/static/"))
        .collect();
    assert!(scripts.contains(&"/static/qr-login.js"), "{scripts:?}");
    for src in scripts {
        let res = c.get(src).await;
        assert_eq!(res.status(), 200, "{src}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript"),
            "{src}"
        );
    }
    t.stop().await;
}
