//! Chat over real HTTP and WebSocket: conversations and groups, messages,
//! history without gaps, unread counts and receipts, walls between
//! conversations, live delivery, resuming after a drop or a restart, and
//! do-not-disturb.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{error_code, Client, TestServer};

/// An org with its owner and two members, Alice and Bob (client, user id).
pub struct Team {
    pub t: TestServer,
    pub owner: Client,
    pub alice: (Client, String),
    pub bob: (Client, String),
}

pub async fn user_id(c: &Client) -> String {
    c.get_json("/api/v1/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn team() -> Team {
    team_with(|_| {}).await
}

/// Alice, Bob and the owner of their org, on a server configured by `adjust`.
pub async fn team_with(adjust: impl FnOnce(&mut tram_platform::config::Config)) -> Team {
    let t = TestServer::start_with(adjust).await;
    let owner = t.setup().await;
    let code = t.invite(&owner, "member").await;
    let alice = t
        .register_email("alice@example.com", "Alice", None, Some(&code))
        .await;
    let bob = t
        .register_email("bob@example.com", "Bob", None, Some(&code))
        .await;
    let (alice_id, bob_id) = (user_id(&alice).await, user_id(&bob).await);
    Team {
        t,
        owner,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
    }
}

pub async fn group(creator: &Client, name: &str, members: &[&String]) -> String {
    let (status, body) = creator
        .post_json(
            "/api/v1/conversations",
            json!({ "name": name, "member_ids": members }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["conversation_id"].as_str().unwrap().to_string()
}

pub async fn say(c: &Client, conversation: &str, body: Value) -> Value {
    let (status, message) = c
        .post_json(
            &format!("/api/v1/conversations/{conversation}/messages"),
            body,
        )
        .await;
    assert_eq!(status, 200, "{message}");
    message
}

#[tokio::test]
async fn direct_chats_and_group_lifecycle() {
    let Team {
        t,
        owner,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
    } = team().await;
    // One 1:1 chat per pair, whoever opens it.
    let (_, a) = alice
        .post_json("/api/v1/conversations/direct", json!({ "user_id": bob_id }))
        .await;
    let (_, b) = bob
        .post_json(
            "/api/v1/conversations/direct",
            json!({ "user_id": alice_id }),
        )
        .await;
    assert_eq!(a["conversation_id"], b["conversation_id"]);
    let (status, body) = alice
        .post_json(
            "/api/v1/conversations/direct",
            json!({ "user_id": alice_id }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "self_chat"));

    let g = group(&alice, "資金管理群組", &[&bob_id]).await;
    let (_, details) = bob.get_json(&format!("/api/v1/conversations/{g}")).await;
    assert_eq!(details["conversation"]["title"], "資金管理群組");
    assert_eq!(details["members"].as_array().unwrap().len(), 2);
    assert_eq!(details["members"][0]["role"], "owner");

    // Members cannot manage the group; the owner can.
    let (status, body) = bob
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/name"),
            json!({ "name": "X" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "admin_only"));
    let (status, _) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/name"),
            json!({ "name": "財務部群組" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/announcement"),
            json!({ "text": "每日 09:15 前提交現金流報表" }),
        )
        .await;
    assert_eq!(status, 200);
    let owner_id = user_id(&owner).await;
    let (status, _) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/members"),
            json!({ "user_ids": [owner_id] }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, details) = owner.get_json(&format!("/api/v1/conversations/{g}")).await;
    assert_eq!(details["conversation"]["title"], "財務部群組");
    assert_eq!(
        details["conversation"]["announcement"],
        "每日 09:15 前提交現金流報表"
    );
    // Promote Bob to admin; he may then remove the org owner (a plain member here).
    alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/members/{bob_id}/role"),
            json!({ "role": "admin" }),
        )
        .await;
    let (status, _) = bob
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{g}/members/{owner_id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        owner
            .get_json(&format!("/api/v1/conversations/{g}"))
            .await
            .0,
        404
    );
    // An admin cannot remove the owner; the owner cannot simply leave.
    let (status, _) = bob
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{g}/members/{alice_id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = alice
        .post_json(&format!("/api/v1/conversations/{g}/leave"), json!({}))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "owner_cannot_leave")
    );
    // Bob leaves and rejoins by the group's link.
    let (status, _) = bob
        .post_json(&format!("/api/v1/conversations/{g}/leave"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        bob.get_json(&format!("/api/v1/conversations/{g}/messages"))
            .await
            .0,
        404
    );
    let (status, _) = bob
        .post_json(&format!("/api/v1/conversations/{g}/join"), json!({}))
        .await;
    assert_eq!(status, 200);
    // Dissolving ends it for everyone.
    let (status, _) = bob
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{g}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = alice
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{g}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = bob
        .post_json(
            &format!("/api/v1/conversations/{g}/messages"),
            json!({ "body": "還在嗎" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (410, "dissolved"));
    let (_, list) = bob.get_json("/api/v1/conversations").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != g.as_str()));
    t.stop().await;
}

#[tokio::test]
async fn messages_markdown_mentions_replies_edits_and_recall() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let owner_id = user_id(&owner).await;
    let g = group(&alice, "Team", &[&bob_id]).await;
    let first = say(&alice, &g, json!({ "body": "昨日現金流報表已更新" })).await;
    assert_eq!(first["seq"], 1);
    let attack = say(
        &alice,
        &g,
        json!({ "kind": "markdown", "body": "**請看** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>" }),
    )
    .await;
    let html = attack["html"].as_str().unwrap();
    assert!(html.contains("<strong>請看</strong>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("<img") && !html.contains("href=\"javascript"),
        "{html}"
    );
    let plain = say(&alice, &g, json!({ "body": "<b>not bold</b>" })).await;
    assert_eq!(plain["html"], "&lt;b&gt;not bold&lt;/b&gt;");
    // Mentions keep only members of the conversation.
    let mention = say(
        &alice,
        &g,
        json!({ "body": "@Bob 請確認", "mentions": [bob_id, owner_id] }),
    )
    .await;
    assert_eq!(mention["mentions"], json!([bob_id]));
    // A reply quotes the original.
    let reply = say(&bob, &g, json!({ "body": "收到", "reply_to": first["id"] })).await;
    assert_eq!(reply["reply_to"]["seq"], 1);
    assert_eq!(reply["reply_to"]["excerpt"], "昨日現金流報表已更新");
    assert_eq!(reply["reply_to"]["sender_name"], "Alice");
    // Only the sender edits.
    let id = first["id"].as_str().unwrap();
    let (status, _) = bob
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{g}/messages/{id}"),
            json!({ "body": "hacked" }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, edited) = alice
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{g}/messages/{id}"),
            json!({ "body": "昨日現金流報表已更新（修訂）" }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(edited["edited_at"].is_i64());
    // Recall within the window removes the content for everyone.
    let (status, recalled) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/messages/{id}/recall"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(recalled["recalled"], true);
    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await;
    let seen = history
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap();
    assert_eq!(seen["body"], "");
    assert_eq!(seen["recalled"], true);
    assert_eq!(
        history
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == reply["id"])
            .unwrap()["reply_to"]["excerpt"],
        ""
    );
    // After 24 hours it is too late.
    let late = say(&alice, &g, json!({ "body": "keep me" })).await;
    t.advance(24 * 3600 + 1);
    let (status, body) = alice
        .post_json(
            &format!(
                "/api/v1/conversations/{g}/messages/{}/recall",
                late["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (403, "recall_expired")
    );
    // Empty and oversized messages are refused and store nothing.
    let before = t.count("SELECT COUNT(*) FROM messages").await;
    for body in [
        json!({ "body": "   " }),
        json!({ "body": "字".repeat(8001) }),
    ] {
        let (status, err) = alice
            .post_json(&format!("/api/v1/conversations/{g}/messages"), body)
            .await;
        assert_eq!((status.as_u16(), error_code(&err)), (400, "invalid_body"));
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM messages").await, before);
    // The same client id twice stores one message.
    let a = say(&alice, &g, json!({ "body": "once", "client_id": "c-1" })).await;
    let b = say(&alice, &g, json!({ "body": "once", "client_id": "c-1" })).await;
    assert_eq!(a["id"], b["id"]);
    assert_eq!(t.count("SELECT COUNT(*) FROM messages").await, before + 1);
    t.stop().await;
}

#[tokio::test]
async fn history_pages_back_in_order_without_gaps_or_duplicates() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "History", &[&bob_id]).await;
    for i in 1..=120 {
        say(&alice, &g, json!({ "body": format!("message {i}") })).await;
    }
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/api/v1/conversations/{g}/messages?limit=50&before={b}"),
            None => format!("/api/v1/conversations/{g}/messages?limit=50"),
        };
        let (_, page) = bob.get_json(&path).await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        let seqs: Vec<i64> = page.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "a page is in order: {seqs:?}"
        );
        before = Some(seqs[0]);
        seen.splice(0..0, seqs);
    }
    assert_eq!(seen, (1..=120).collect::<Vec<i64>>());
    let (_, after) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages?after=115"))
        .await;
    let seqs: Vec<i64> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![116, 117, 118, 119, 120]);
    t.stop().await;
}

#[tokio::test]
async fn unread_counts_and_read_receipts() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let owner_id = user_id(&owner).await;
    let g = group(&alice, "Receipts", &[&bob_id, &owner_id]).await;
    let m1 = say(&alice, &g, json!({ "body": "one" })).await;
    say(&alice, &g, json!({ "body": "two" })).await;
    say(&alice, &g, json!({ "body": "three" })).await;
    let unread = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == g.as_str())
            .unwrap()["unread"]
            .clone()
    };
    assert_eq!(unread(&bob.get_json("/api/v1/conversations").await.1), 3);
    assert_eq!(
        unread(&alice.get_json("/api/v1/conversations").await.1),
        0,
        "my own messages are read"
    );
    let (status, mark) = bob
        .post_json(
            &format!("/api/v1/conversations/{g}/read"),
            json!({ "seq": 2 }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(mark["read_seq"], 2);
    // Marks never move back, nor past the end.
    assert_eq!(
        bob.post_json(
            &format!("/api/v1/conversations/{g}/read"),
            json!({ "seq": 1 })
        )
        .await
        .1["read_seq"],
        2
    );
    assert_eq!(
        bob.post_json(
            &format!("/api/v1/conversations/{g}/read"),
            json!({ "seq": 99 })
        )
        .await
        .1["read_seq"],
        2
    );
    assert_eq!(unread(&bob.get_json("/api/v1/conversations").await.1), 1);
    let (_, receipt) = alice
        .get_json(&format!(
            "/api/v1/conversations/{g}/messages/{}/receipt",
            m1["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(receipt["recipients"], 2);
    assert_eq!(receipt["read_by"], json!([bob_id]));
    t.stop().await;
}

#[tokio::test]
async fn outsiders_cannot_read_post_or_listen_even_by_guessing_ids() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (_, bob_id),
    } = team().await;
    let g = group(&alice, "Private", &[&bob_id]).await;
    let m = say(&alice, &g, json!({ "body": "secret plan" })).await;
    let mid = m["id"].as_str().unwrap();
    let rival = t
        .register_email("rival@example.com", "Rival", Some("Rival Ltd"), None)
        .await;
    for outsider in [&owner, &rival] {
        for (method, path) in [
            (Method::GET, format!("/api/v1/conversations/{g}")),
            (Method::GET, format!("/api/v1/conversations/{g}/messages")),
            (
                Method::GET,
                format!("/api/v1/conversations/{g}/messages/{mid}/receipt"),
            ),
            (Method::POST, format!("/api/v1/conversations/{g}/messages")),
            (Method::POST, format!("/api/v1/conversations/{g}/read")),
            (
                Method::PATCH,
                format!("/api/v1/conversations/{g}/messages/{mid}"),
            ),
        ] {
            let (status, body) = outsider
                .call(method.clone(), &path, json!({ "body": "x", "seq": 1 }))
                .await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert!(!body.to_string().contains("secret"));
        }
    }
    // The rival's org cannot even join by the link.
    let (status, _) = rival
        .post_json(&format!("/api/v1/conversations/{g}/join"), json!({}))
        .await;
    assert_eq!(status, 404);
    // Their sockets hear nothing of it.
    let mut socket = rival.socket().await;
    let ready = socket.expect("ready", 2.0).await;
    assert!(!ready.to_string().contains(&g));
    socket
        .send(json!({ "type": "resume", "cursors": { g.clone(): 0 } }))
        .await;
    say(&alice, &g, json!({ "body": "more secrets" })).await;
    let events = socket.drain(0.5).await;
    assert!(
        !events.iter().any(|e| e.to_string().contains("secret")),
        "{events:?}"
    );
    t.stop().await;
}

#[tokio::test]
async fn live_delivery_notifications_and_do_not_disturb() {
    let Team {
        t,
        owner,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
    } = team().await;
    let owner_id = user_id(&owner).await;
    let g = group(&alice, "Live", &[&bob_id, &owner_id]).await;
    let mut bob_socket = bob.socket().await;
    let ready = bob_socket.expect("ready", 2.0).await;
    assert!(ready.to_string().contains(&g));

    let sent_at = std::time::Instant::now();
    let sent = say(&alice, &g, json!({ "body": "即時訊息" })).await;
    let got = bob_socket.expect("message", 2.0).await;
    assert!(sent_at.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(got["message"]["id"], sent["id"]);
    let notify = bob_socket.expect("notify", 1.0).await;
    assert_eq!(notify["message_id"], sent["id"]);

    // Quiet hours all day, every day: plain messages arrive silently...
    let (status, settings) = bob
        .call(
            Method::PUT,
            "/api/v1/me/notifications",
            json!({ "enabled": true, "time_zone": "Asia/Hong_Kong",
                    "periods": [{ "days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00" }],
                    "allow_mentions": true, "allow_from": [owner_id] }),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    say(&alice, &g, json!({ "body": "plain" })).await;
    let events = bob_socket.drain(0.4).await;
    assert!(events
        .iter()
        .any(|e| e["type"] == "message" && e["message"]["body"] == "plain"));
    assert!(
        !events.iter().any(|e| e["type"] == "notify"),
        "no notification in quiet time: {events:?}"
    );
    // ...an @mention gets through...
    let mention = say(
        &alice,
        &g,
        json!({ "body": "@Bob 急", "mentions": [bob_id] }),
    )
    .await;
    bob_socket.expect("message", 1.0).await;
    let notify = bob_socket.expect("notify", 1.0).await;
    assert_eq!(notify["message_id"], mention["id"]);
    assert_eq!(notify["mention"], true);
    // ...and so does the person Bob allowed.
    let boss = say(&owner, &g, json!({ "body": "from the boss" })).await;
    bob_socket.expect("message", 1.0).await;
    assert_eq!(
        bob_socket.expect("notify", 1.0).await["message_id"],
        boss["id"]
    );
    // A muted conversation stays silent outside quiet hours too.
    bob.call(Method::PUT, "/api/v1/me/notifications", json!({ "enabled": false, "time_zone": "Asia/Hong_Kong", "periods": [], "allow_mentions": true, "allow_from": [] })).await;
    bob.call(
        Method::PUT,
        &format!("/api/v1/conversations/{g}/mute"),
        json!({ "muted": true }),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    bob_socket.drain(0.2).await;
    say(&alice, &g, json!({ "body": "muted chat" })).await;
    let events = bob_socket.drain(0.4).await;
    assert!(events.iter().any(|e| e["type"] == "message"));
    assert!(!events.iter().any(|e| e["type"] == "notify"), "{events:?}");
    // Bad settings are refused and change nothing.
    let (status, body) = bob
        .call(Method::PUT, "/api/v1/me/notifications", json!({ "enabled": true, "time_zone": "Mars/Base", "periods": [], "allow_mentions": true, "allow_from": [] }))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_quiet_hours")
    );
    assert_eq!(
        bob.get_json("/api/v1/me/notifications").await.1["enabled"],
        false
    );
    let _ = alice_id;
    t.stop().await;
}

#[tokio::test]
async fn a_dropped_socket_resumes_with_every_message_once_in_order() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Resume", &[&bob_id]).await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    say(&alice, &g, json!({ "body": "m1" })).await;
    let last_seen = socket.expect("message", 2.0).await["message"]["seq"]
        .as_i64()
        .unwrap();
    drop(socket);
    for i in 2..=4 {
        say(&alice, &g, json!({ "body": format!("m{i}") })).await;
    }
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    socket
        .send(json!({ "type": "resume", "cursors": { g.clone(): last_seen } }))
        .await;
    say(&alice, &g, json!({ "body": "m5" })).await;
    let events = socket.drain(0.5).await;
    let bodies: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "message")
        .map(|e| e["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec!["m2", "m3", "m4", "m5"]);
    t.stop().await;
}

#[tokio::test]
async fn concurrent_sends_reach_a_socket_once_each_in_sequence_order() {
    // Concurrent senders commit in one order and announce in another; the
    // socket still gets 1, 2, 3, … once each.
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Busy", &[&bob_id]).await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    let sends = (0..40).map(|i| {
        let (alice, g) = (alice.clone(), g.clone());
        async move { say(&alice, &g, json!({ "body": format!("#{i}") })).await }
    });
    futures::future::join_all(sends).await;
    let mut seqs = Vec::new();
    while seqs.len() < 40 {
        seqs.push(
            socket.expect("message", 3.0).await["message"]["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    let rest = socket.drain(0.5).await;
    assert!(!rest.iter().any(|e| e["type"] == "message"), "{rest:?}");
    t.stop().await;
}

#[tokio::test]
async fn a_socket_reads_unannounced_messages_from_the_database_even_while_interrupted() {
    // 450 messages are stored without being announced, as if the bus had
    // lost them; the next announcement shows the gap and the socket reads
    // them (three pages) while its client keeps pinging. Nothing is lost
    // to a read cut short by a ping.
    let Team {
        t,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Lossy bus", &[&bob_id]).await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    let state = t.state();
    let org_id: String = sqlx::query_scalar("SELECT org_id FROM conversations WHERE id = $1")
        .bind(&g)
        .fetch_one(state.db.read())
        .await
        .unwrap();
    let me = tram_chat::conversations::participant(&state.db, &org_id, &g, &alice_id)
        .await
        .unwrap();
    for i in 1..=450 {
        let new = serde_json::from_value(json!({ "body": format!("unannounced {i}") })).unwrap();
        tram_chat::messages::send(state, &me, new).await.unwrap();
    }
    say(&alice, &g, json!({ "body": "announced" })).await;
    let mut seqs = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seqs.len() < 451 && std::time::Instant::now() < deadline {
        socket.send(json!({ "type": "ping" })).await;
        while let Some(event) = socket.next_within(0.005).await {
            if event["type"] == "message" {
                seqs.push(event["message"]["seq"].as_i64().unwrap());
            }
        }
    }
    assert_eq!(seqs, (1..=451).collect::<Vec<_>>());
    t.stop().await;
}

#[tokio::test]
async fn messages_survive_a_restart_and_clients_resume() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Restart", &[&bob_id]).await;
    say(&alice, &g, json!({ "body": "before restart" })).await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    let t = t.restart().await;
    assert!(
        socket.next_within(6.0).await.is_none() || socket.drain(0.1).await.is_empty(),
        "the old socket is gone"
    );
    say(&alice, &g, json!({ "body": "after restart" })).await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    socket
        .send(json!({ "type": "resume", "cursors": { g.clone(): 0 } }))
        .await;
    let events = socket.drain(0.5).await;
    let bodies: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "message")
        .map(|e| e["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec!["before restart", "after restart"]);
    t.stop().await;
}

#[tokio::test]
async fn sockets_close_when_the_device_is_removed_and_refuse_other_origins() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, _),
        ..
    } = team().await;
    assert!(
        bob.try_socket("http://evil.example").await.is_err(),
        "cross-origin handshake refused"
    );
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    let (_, devices) = bob.get_json("/api/v1/devices").await;
    let device = devices[0]["id"].as_str().unwrap().to_string();
    let second = t.client();
    second.login("bob@example.com", crate::kit::PASSWORD).await;
    let (status, _) = second
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{device}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    while socket.next_within(7.0).await.is_some() {}
    assert!(
        started.elapsed() < std::time::Duration::from_secs(7),
        "closed within the session check"
    );
    let _ = alice;
    t.stop().await;
}

#[tokio::test]
async fn the_first_messages_of_a_new_group_reach_open_sockets_live() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    for round in 0..5 {
        // Posted at once: often before Bob's socket has noticed the group.
        let g = group(&alice, &format!("新組 {round}"), &[&bob_id]).await;
        say(&alice, &g, json!({ "body": format!("first {round}") })).await;
        let events = socket.drain(1.0).await;
        let bodies: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "message" && e["conversation_id"] == g.as_str())
            .map(|e| e["message"]["body"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            bodies,
            vec![format!("first {round}")],
            "round {round}: {events:?}"
        );
    }
    t.stop().await;
}
