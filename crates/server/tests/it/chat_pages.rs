//! The chat pages and Settings > Notifications as a browser gets them:
//! they render for members with the pieces the scripts drive, keep
//! strangers out, and send logged-out visitors to the login page.

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::{team, Team};
use crate::kit::{error_code, Client, TestServer};

/// A page as a browser asks for it: (status, Location header, body).
async fn page(c: &Client, path: &str) -> (u16, String, String) {
    let res = c
        .http
        .get(c.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// Asserts that `html` (`what`) carries every one of `testids`.
fn has_testids(html: &str, what: &str, testids: &[&str]) {
    for testid in testids {
        assert!(
            html.contains(&format!("data-testid=\"{testid}\"")),
            "{what} lacks {testid}"
        );
    }
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[tokio::test]
async fn the_chat_page_lists_conversations_and_opens_one_for_members_only() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let (_, direct) = alice
        .post_json("/api/v1/conversations/direct", json!({ "user_id": bob_id }))
        .await;
    let direct = direct["conversation_id"].as_str().unwrap().to_string();
    for text in ["第一條", "第二條"] {
        let (status, _) = bob
            .post_json(
                &format!("/api/v1/conversations/{direct}/messages"),
                json!({ "body": text }),
            )
            .await;
        assert_eq!(status, 200);
    }

    let (status, _, html) = page(&alice, "/chat").await;
    assert_eq!(status, 200);
    has_testids(
        &html,
        "/chat",
        &[
            "chat",
            "conversation-list",
            "connection",
            "chat-search",
            "new-group",
            "notification-centre-open",
        ],
    );
    // The navigation offers chat, the list links the 1:1 chat under Bob's
    // name with its two unread messages, and nothing is open yet.
    assert!(html.contains("href=\"/chat\""));
    assert!(html.contains(&format!("href=\"/chat/{direct}\"")));
    assert!(
        html.contains("<span class=\"conv-title\">Bob</span>"),
        "{html}"
    );
    assert!(html.contains("data-testid=\"unread\">2</span>"), "{html}");
    assert!(!html.contains("data-testid=\"composer\""));
    // The colleagues offered for a new group are the others, not me.
    assert_eq!(count(&html, "data-testid=\"group-member\""), 2);

    let (status, _, html) = page(&alice, &format!("/chat/{direct}")).await;
    assert_eq!(status, 200);
    has_testids(
        &html,
        "/chat/{id}",
        &[
            "messages",
            "composer",
            "composer-text",
            "markdown-toggle",
            "attach",
            "send",
            "mute-toggle",
            "chat-settings",
        ],
    );
    assert!(html.contains(&format!("data-open=\"{direct}\"")));
    assert!(html.contains("data-testid=\"chat-title\">Bob</h1>"));
    assert!(
        html.contains("aria-current=\"page\""),
        "the open conversation is marked in the list"
    );

    // Someone outside the conversation cannot open it.
    let (status, _, _) = page(&owner, &format!("/chat/{direct}")).await;
    assert_eq!(status, 404);
    // Once read, the unread badge is gone from the list fragment.
    let (status, _) = alice
        .post_json(
            &format!("/api/v1/conversations/{direct}/read"),
            json!({ "seq": 2 }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, list) = page(&alice, &format!("/chat/fragments/list?open={direct}")).await;
    assert_eq!(status, 200);
    assert!(
        list.contains(&format!("href=\"/chat/{direct}\""))
            && !list.contains("data-testid=\"unread\""),
        "{list}"
    );
    assert!(!list.contains("<html"), "a fragment, not a page");

    // Every script the chat page loads is served as JavaScript.
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(
        ["/static/chat.js", "/static/chat-find.js", "/static/live.js"]
            .iter()
            .all(|s| scripts.contains(s)),
        "{scripts:?}"
    );
    for src in scripts {
        let res = alice.get(src).await;
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

#[tokio::test]
async fn the_group_panel_offers_what_each_role_may_do() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let (_, group) = alice
        .post_json(
            "/api/v1/conversations",
            json!({ "name": "資金管理群組", "member_ids": [bob_id] }),
        )
        .await;
    let g = group["conversation_id"].as_str().unwrap().to_string();
    alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/announcement"),
            json!({ "text": "每日 09:15 提交報表" }),
        )
        .await;

    let (status, _, html) = page(&alice, &format!("/chat/{g}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("每日 09:15 提交報表"),
        "the announcement is pinned at the top"
    );

    let (status, _, owner_panel) = page(&alice, &format!("/chat/{g}/panel")).await;
    assert_eq!(status, 200);
    has_testids(
        &owner_panel,
        "the owner's panel",
        &[
            "group-rename",
            "group-announcement",
            "member-role",
            "member-remove",
            "add-member",
            "group-dissolve",
        ],
    );
    assert!(
        !owner_panel.contains("data-testid=\"group-leave\""),
        "the owner hands over before leaving"
    );
    assert_eq!(count(&owner_panel, "data-testid=\"group-member-row\""), 2);
    // The org owner is not in the group yet, so Alice may add them.
    assert_eq!(count(&owner_panel, "data-testid=\"add-member\""), 1);

    let (status, _, member_panel) = page(&bob, &format!("/chat/{g}/panel")).await;
    assert_eq!(status, 200);
    assert!(member_panel.contains("data-testid=\"group-leave\""));
    for testid in [
        "group-rename",
        "member-role",
        "member-remove",
        "add-member",
        "group-dissolve",
    ] {
        assert!(
            !member_panel.contains(&format!("data-testid=\"{testid}\"")),
            "a member's panel offers {testid}"
        );
    }
    assert_eq!(page(&owner, &format!("/chat/{g}/panel")).await.0, 404);
    t.stop().await;
}

#[tokio::test]
async fn logged_out_visitors_are_sent_to_log_in() {
    let t = TestServer::start().await;
    t.setup().await;
    let stranger = t.client();
    for path in [
        "/chat",
        "/chat/0190c0de-0000-7000-8000-000000000000",
        "/chat/fragments/list",
        "/settings/notifications",
    ] {
        let (status, location, _) = page(&stranger, path).await;
        assert!((300..400).contains(&status), "{path}: {status}");
        assert!(location.starts_with("/login?next="), "{path}: {location}");
    }
    t.stop().await;
}

#[tokio::test]
async fn notification_settings_page_shows_what_is_saved() {
    let Team {
        t,
        owner: _,
        alice: (_, alice_id),
        bob: (bob, bob_id),
    } = team().await;
    let (status, _, html) = page(&bob, "/settings/notifications").await;
    assert_eq!(status, 200);
    has_testids(
        &html,
        "the page",
        &[
            "quiet-form",
            "quiet-enabled",
            "quiet-zone",
            "quiet-periods",
            "quiet-add",
            "quiet-allow-mentions",
            "quiet-save",
            "settings-notifications",
        ],
    );
    assert!(
        html.contains("value=\"Asia/Hong_Kong\""),
        "Hong Kong time by default"
    );
    // No period yet: the only row is the template's.
    assert_eq!(count(&html, "data-testid=\"quiet-period\""), 1);

    let settings = json!({ "enabled": true, "time_zone": "Asia/Taipei",
        "periods": [{ "days": [1, 2, 3, 4, 5], "start": "19:00", "end": "09:00" }, { "days": [6, 7], "start": "00:00", "end": "00:00" }],
        "allow_mentions": false, "allow_from": [alice_id] });
    let (status, body) = bob
        .call(Method::PUT, "/api/v1/me/notifications", settings)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, _, html) = page(&bob, "/settings/notifications").await;
    assert!(html.contains("value=\"Asia/Taipei\""));
    assert_eq!(
        count(&html, "data-testid=\"quiet-period\""),
        3,
        "two saved periods and the template"
    );
    assert_eq!(
        count(&html, "value=\"00:00\""),
        2,
        "the weekend period runs 00:00-00:00"
    );
    assert!(html.contains("data-testid=\"quiet-enabled\" checked"));
    assert!(!html.contains("data-testid=\"quiet-allow-mentions\" checked"));
    assert!(html.contains(&format!(
        "value=\"{alice_id}\" data-testid=\"quiet-allow-person\" checked"
    )));
    assert!(
        !html.contains(&format!("value=\"{bob_id}\"")),
        "I am not offered to myself"
    );

    // A bad zone is reported at the zone field, and nothing changes.
    let (status, body): (_, Value) = bob
        .call(Method::PUT, "/api/v1/me/notifications", json!({ "enabled": true, "time_zone": "Mars/Base", "periods": [], "allow_mentions": true, "allow_from": [] }))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_quiet_hours")
    );
    assert!(body["error"]["fields"]["time_zone"].is_string(), "{body}");
    let (_, saved) = bob.get_json("/api/v1/me/notifications").await;
    assert_eq!(saved["time_zone"], "Asia/Taipei");
    t.stop().await;
}

#[tokio::test]
async fn contacts_offer_a_message_button_for_each_colleague() {
    let Team {
        t,
        owner: _,
        alice: (alice, alice_id),
        bob: (_, bob_id),
    } = team().await;
    let (status, _, html) = page(&alice, "/contacts").await;
    assert_eq!(status, 200);
    assert_eq!(
        count(&html, "data-testid=\"message-colleague\""),
        2,
        "the owner and Bob, not me"
    );
    assert!(html.contains(&format!("name=\"user_id\" value=\"{bob_id}\"")));
    assert!(!html.contains(&format!("name=\"user_id\" value=\"{alice_id}\"")));
    assert!(html.contains("data-api=\"/api/v1/conversations/direct\""));
    t.stop().await;
}

#[tokio::test]
async fn the_composer_knows_the_upload_limit_in_the_servers_words() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = crate::chat::team_with(|c| c.chat.max_upload_bytes = 1000).await;
    let g = crate::chat::group(&alice, "Files", &[&bob_id]).await;
    let (status, _, html) = page(&alice, &format!("/chat/{g}")).await;
    assert_eq!(status, 200);
    has_testids(
        &html,
        "/chat/{id}",
        &[
            "attach",
            "upload-status",
            "upload-progress",
            "composer-error",
        ],
    );
    // The page refuses a larger file with the very message the API gives.
    let (status, body) = crate::chat_files::upload(
        &alice,
        &g,
        "name=big.bin",
        "application/octet-stream",
        vec![1u8; 2000],
    )
    .await;
    assert_eq!(status, 413);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(html.contains("data-max-upload=\"1000\""), "{html}");
    assert!(
        html.contains(&format!("data-msg-too-large=\"{message}\"")),
        "{message} not in the page"
    );
    t.stop().await;
}
