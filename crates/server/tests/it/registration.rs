//! First-run setup and registration (by e-mail and by phone; creating an
//! organisation or joining one by invitation), with the failures that must
//! leave nothing behind.

use serde_json::json;

use crate::kit::{error_code, TestServer, PASSWORD};

#[tokio::test]
async fn first_run_creates_the_first_org_and_its_owner_once() {
    let t = TestServer::start().await;
    let visitor = t.client();
    // Before setup every visit leads to the setup page.
    let res = visitor.get("/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/setup");
    let (_, status) = visitor.get_json("/api/v1/setup").await;
    assert_eq!(status["needed"], true);

    let owner = t.setup().await;
    let (status, org) = owner.get_json("/api/v1/org").await;
    assert_eq!(status, 200);
    assert_eq!(org["role"], "owner");
    assert_eq!(org["org"]["name"], "港鐵貿易有限公司");
    let (_, me) = owner.get_json("/api/v1/me").await;
    assert_eq!(me["user"]["is_server_admin"], true);

    // A second setup is refused and changes nothing.
    let (status, body) = t
        .client()
        .post_json(
            "/api/v1/setup",
            json!({ "org_name": "Other", "display_name": "Eve", "email": "eve@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "setup_done");
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM orgs").await, 1);
    t.stop().await;
}

#[tokio::test]
async fn register_by_email_with_a_company_makes_an_owner() {
    let t = TestServer::start().await;
    t.setup().await;
    let ada = t
        .register_email(
            "ada@example.com",
            "Ada Lovelace",
            Some("數據分析有限公司"),
            None,
        )
        .await;
    let (status, org) = ada.get_json("/api/v1/org").await;
    assert_eq!(status, 200);
    assert_eq!(org["role"], "owner");
    assert_eq!(org["org"]["name"], "數據分析有限公司");
    // The account can log in again with its password.
    let again = t.client();
    let (status, body) = again.login("ADA@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "logged_in");
    t.stop().await;
}

#[tokio::test]
async fn register_by_phone_with_an_invitation_joins_the_org() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let invitation = t.invite(&owner, "member").await;
    let phone_client = t.client();
    let (status, sent) = phone_client
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": "9123 4567" }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["sent_to"], "+852****4567");
    assert_eq!(sent["channel"], "sms");
    let code = t.last_code("+85291234567").await;
    let (status, body) = phone_client
        .post_json(
            "/api/v1/register",
            json!({ "channel": "sms", "destination": "+852 9123 4567", "code": code, "display_name": "李小明",
                    "password": PASSWORD, "invitation_code": invitation }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["phone"], "+85291234567");
    let (_, org) = phone_client.get_json("/api/v1/org").await;
    assert_eq!(org["role"], "member");
    assert_eq!(org["org"]["name"], "港鐵貿易有限公司");
    // Log in with the number written differently.
    let (status, _) = t.client().login("91234567", PASSWORD).await;
    assert_eq!(status, 200);
    t.stop().await;
}

#[tokio::test]
async fn invalid_and_landline_numbers_are_refused_with_a_clear_message() {
    let t = TestServer::start().await;
    let c = t.client();
    for (number, code) in [
        ("1234", "invalid_phone"),
        ("+852 1234 5678", "invalid_phone"),
        ("+852 2123 4567", "not_mobile"),
    ] {
        let (status, body) = c
            .post_json(
                "/api/v1/codes",
                json!({ "purpose": "register", "channel": "sms", "destination": number }),
            )
            .await;
        assert_eq!(status, 400, "{number}");
        assert_eq!(error_code(&body), code, "{number}");
        assert!(
            body["error"]["fields"]["phone"]
                .as_str()
                .unwrap()
                .contains("電話"),
            "{body}"
        );
    }
    let (status, body) = c
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "email", "destination": "not-an-address" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "invalid_email");
    assert_eq!(t.count("SELECT COUNT(*) FROM verification_codes").await, 0);
    t.stop().await;
}

#[tokio::test]
async fn duplicate_registration_is_refused_without_revealing_the_account_to_others() {
    let t = TestServer::start().await;
    t.setup().await;
    t.register_email("ada@example.com", "Ada", None, None).await;
    let other = t.client();
    t.advance(61);
    // Asking for a code answers exactly as for a new address...
    let (status, sent) = other
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "email", "destination": "ada@example.com" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sent["sent_to"], "a***@example.com");
    // ...but the mailbox owner is told the account exists, and gets no code.
    let message = t.last_message("ada@example.com").await.unwrap();
    assert!(message.contains("已註冊"), "{message}");
    assert!(crate::kit::find_code(&message).is_none());
    // Whatever code is tried, nothing is created.
    let (status, body) = other
        .post_json(
            "/api/v1/register",
            json!({ "channel": "email", "destination": "ada@example.com", "code": "123456", "display_name": "Eve", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "code_invalid");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM users WHERE email = 'ada@example.com'")
            .await,
        1
    );
    t.stop().await;
}

#[tokio::test]
async fn bad_registration_input_is_refused_before_the_code_is_spent() {
    let t = TestServer::start().await;
    let c = t.client();
    c.post_json(
        "/api/v1/codes",
        json!({ "purpose": "register", "channel": "email", "destination": "bob@example.com" }),
    )
    .await;
    let code = t.last_code("bob@example.com").await;
    let attempt = |password: &str, name: &str, company: Option<&str>, invitation: Option<&str>| {
        json!({ "channel": "email", "destination": "bob@example.com", "code": code, "display_name": name,
                "password": password, "company_name": company, "invitation_code": invitation })
    };
    let (status, body) = c
        .post_json("/api/v1/register", attempt("short", "Bob", None, None))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "weak_password"));
    let (status, body) = c
        .post_json("/api/v1/register", attempt(PASSWORD, "  ", None, None))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_name"));
    let (status, body) = c
        .post_json(
            "/api/v1/register",
            attempt(PASSWORD, "Bob", None, Some("no-such-code")),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invitation_invalid")
    );
    let long_company = "公".repeat(101);
    let (status, body) = c
        .post_json(
            "/api/v1/register",
            attempt(PASSWORD, "Bob", Some(&long_company), None),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_org_name")
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM orgs").await, 0);
    // The code was not used up by the refused attempts.
    let (status, body) = c
        .post_json("/api/v1/register", attempt(PASSWORD, "Bob", None, None))
        .await;
    assert_eq!(status, 200, "{body}");
    t.stop().await;
}
