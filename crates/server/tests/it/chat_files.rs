//! Images and files in chat over real HTTP: upload, live delivery,
//! download by members only, safe names and types, the size limit with
//! nothing left behind on failure, recall removing the file; and the
//! notification centre.

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::{group, say, team, team_with, Team};
use crate::kit::{error_code, Client, TestServer};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

pub async fn upload(
    c: &Client,
    conversation: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let res = c
        .http
        .post(c.url(&format!(
            "/api/v1/conversations/{conversation}/files?{query}"
        )))
        .header("x-csrf-token", c.csrf().await)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Files kept in the blob store (staging included).
fn stored_files(t: &TestServer) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(t.state().blobs.root())
}

#[tokio::test]
async fn images_and_files_are_shared_with_members_only() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let g = group(&alice, "設計", &[&bob_id]).await;
    let mut bob_socket = bob.socket().await;
    bob_socket.expect("ready", 2.0).await;

    // An image (recognised by its bytes, whatever the client says).
    let (status, image) = upload(
        &alice,
        &g,
        "name=%E5%9C%96%E8%A1%A8.png&caption=Q3",
        "application/octet-stream",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["kind"], "image");
    assert_eq!(image["body"], "Q3");
    assert_eq!(image["attachment"]["file_name"], "圖表.png");
    assert_eq!(image["attachment"]["content_type"], "image/png");
    assert_eq!(image["attachment"]["size_bytes"], PNG.len());
    let live = bob_socket.expect("message", 2.0).await;
    assert_eq!(live["message"]["id"], image["id"]);
    let url = image["attachment"]["url"].as_str().unwrap().to_string();
    let res = bob.get(&url).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // A file whose name and type try to inject HTML: kept as text, served
    // as a download the browser will not render.
    let name = "<img src=x onerror=alert(1)>.html";
    let query = format!(
        "name={}",
        name.bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let (status, file) = upload(
        &alice,
        &g,
        &query,
        "text/html",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["kind"], "file");
    assert_eq!(file["attachment"]["file_name"], name);
    assert!(!file["html"].as_str().unwrap().contains('<'), "{file}");
    let res = bob.get(file["attachment"]["url"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment;") && !disposition.contains('<'),
        "{disposition}"
    );
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    // Its name is searchable.
    let (_, found) = bob.get_json("/api/v1/chat/search?q=onerror").await;
    assert_eq!(found[0]["message_id"], file["id"], "{found}");

    // Outsiders get nothing: not the file, not an upload into the group.
    let rival = t
        .register_email("rival@example.com", "Rival", Some("Rival Ltd"), None)
        .await;
    for outsider in [&owner, &rival] {
        assert_eq!(outsider.get(&url).await.status(), 404);
        let (status, _) = upload(outsider, &g, "name=x.png", "image/png", PNG.to_vec()).await;
        assert_eq!(status, 404);
    }
    assert_eq!(stored_files(&t), 2);

    // Recall removes the file for everyone.
    let mid = image["id"].as_str().unwrap();
    let (status, recalled) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/messages/{mid}/recall"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(recalled["attachment"].is_null());
    assert_eq!(bob.get(&url).await.status(), 404);
    assert_eq!(stored_files(&t), 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM attachments").await, 1);
    t.stop().await;
}

#[tokio::test]
async fn failed_uploads_leave_no_message_and_no_file() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = team_with(|c| c.chat.max_upload_bytes = 1000).await;
    let g = group(&alice, "Limits", &[&bob_id]).await;
    let messages = || t.count("SELECT COUNT(*) FROM messages");
    let before = messages().await;

    // Over the limit, announced by Content-Length.
    let (status, body) = upload(
        &alice,
        &g,
        "name=big.bin",
        "application/octet-stream",
        vec![7u8; 2000],
    )
    .await;
    assert_eq!((status, error_code(&body)), (413, "too_large"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1000 bytes"),
        "{body}"
    );
    // Over the limit, streamed without a length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..4).map(|_| Ok(vec![1u8; 400])).collect();
    let res = alice
        .http
        .post(alice.url(&format!("/api/v1/conversations/{g}/files?name=stream.bin")))
        .header("x-csrf-token", alice.csrf().await)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Empty, nameless, or replying to a message that is not there.
    let (status, body) = upload(&alice, &g, "name=empty.txt", "text/plain", vec![]).await;
    assert_eq!((status, error_code(&body)), (400, "empty_file"));
    let (status, body) = upload(&alice, &g, "name=%20", "text/plain", b"x".to_vec()).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_file_name"));
    let (status, body) = upload(
        &alice,
        &g,
        "name=a.txt&reply_to=nope",
        "text/plain",
        b"x".to_vec(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "bad_reply"));

    assert_eq!(messages().await, before);
    assert_eq!(t.count("SELECT COUNT(*) FROM attachments").await, 0);
    assert_eq!(stored_files(&t), 0, "no orphan blob");

    // A retry with the same client id stores one message and one file.
    let (s1, first) = upload(
        &alice,
        &g,
        "name=a.txt&client_id=k1",
        "text/plain",
        b"hello".to_vec(),
    )
    .await;
    let (s2, second) = upload(
        &alice,
        &g,
        "name=a.txt&client_id=k1",
        "text/plain",
        b"hello".to_vec(),
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(stored_files(&t), 1);
    t.stop().await;
}

#[tokio::test]
async fn the_notification_centre_lists_what_arrived_while_quiet() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Quiet", &[&bob_id]).await;
    let centre = || async {
        bob.get_json("/api/v1/me/notification-centre")
            .await
            .1
            .as_array()
            .unwrap()
            .clone()
    };
    say(&alice, &g, json!({ "body": "before quiet time" })).await;
    assert!(
        centre().await.is_empty(),
        "notified normally, so not listed"
    );

    let (status, _) = bob
        .call(
            Method::PUT,
            "/api/v1/me/notifications",
            json!({ "enabled": true, "time_zone": "Asia/Hong_Kong",
                    "periods": [{ "days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00" }],
                    "allow_mentions": true, "allow_from": [] }),
        )
        .await;
    assert_eq!(status, 200);
    let quiet = say(&alice, &g, json!({ "body": "arrived quietly" })).await;
    say(
        &alice,
        &g,
        json!({ "body": "@Bob urgent", "mentions": [bob_id] }),
    )
    .await;
    let listed = centre().await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["message"]["id"], quiet["id"]);
    assert_eq!(listed[0]["conversation_name"], "Quiet");

    // Reading the conversation clears it.
    let last = listed[0]["message"]["seq"].as_i64().unwrap() + 1;
    bob.post_json(
        &format!("/api/v1/conversations/{g}/read"),
        json!({ "seq": last }),
    )
    .await;
    assert!(centre().await.is_empty());
    // However much else is unread, what arrived last is listed.
    for i in 0..120 {
        say(&alice, &g, json!({ "body": format!("backlog {i}") })).await;
    }
    let (_, me) = bob.get_json("/api/v1/conversations").await;
    assert!(me[0]["unread"].as_i64().unwrap() > 100, "{me}");
    let latest = say(&alice, &g, json!({ "body": "latest quiet one" })).await;
    let listed = centre().await;
    assert_eq!(listed[0]["message"]["id"], latest["id"], "newest first");
    bob.post_json(
        &format!("/api/v1/conversations/{g}/read"),
        json!({ "seq": latest["seq"] }),
    )
    .await;
    assert!(centre().await.is_empty());
    // A muted conversation's messages are silent and not listed either.
    bob.call(
        Method::PUT,
        &format!("/api/v1/conversations/{g}/mute"),
        json!({ "muted": true }),
    )
    .await;
    say(&alice, &g, json!({ "body": "muted" })).await;
    assert!(centre().await.is_empty());
    t.stop().await;
}
