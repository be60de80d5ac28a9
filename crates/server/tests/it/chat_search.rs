//! Chat search over real HTTP: Traditional Chinese and English words,
//! results only from my conversations, jumping to a result in context,
//! edits and recalls reflected, and an index that survives a restart.

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::{group, say, team, Team};
use crate::kit::{error_code, Client};

async fn search(c: &Client, q: &str) -> Vec<Value> {
    let path = format!("/api/v1/chat/search?q={}", urlencoding(q));
    let (status, body) = c.get_json(&path).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn search_finds_traditional_words_in_my_conversations_only() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let finance = group(&alice, "財務部", &[&bob_id]).await;
    let secret = group(&alice, "董事會", &[]).await;
    for i in 0..5 {
        say(&alice, &finance, json!({ "body": format!("閒聊 {i}") })).await;
    }
    let hit = say(&alice, &finance, json!({ "body": "昨日現金流報表已更新" })).await;
    say(
        &alice,
        &finance,
        json!({ "body": "Quarterly REPORT attached" }),
    )
    .await;
    say(&alice, &secret, json!({ "body": "現金流報表（機密）" })).await;

    // Bob sees the message of his group, not the one of the board.
    let results = search(&bob, "現金流報表").await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["conversation_id"], finance.as_str());
    assert_eq!(results[0]["conversation_name"], "財務部");
    assert_eq!(results[0]["message_id"], hit["id"]);
    assert_eq!(results[0]["sender_name"], "Alice");
    assert_eq!(
        results[0]["snippet_html"],
        "昨日<mark>現金流報表</mark>已更新"
    );
    // Simplified input finds Traditional text; Latin is case-insensitive.
    assert_eq!(search(&bob, "现金流报表").await.len(), 1);
    assert_eq!(
        search(&bob, "report").await[0]["snippet_html"],
        "Quarterly <mark>REPORT</mark> attached"
    );
    // Alice is in both: newest first.
    let mine = search(&alice, "現金流報表").await;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0]["conversation_id"], secret.as_str());
    // Not a substring scan: a word that is not there finds nothing.
    assert!(search(&bob, "流報").await.is_empty());
    // The owner of the org is in neither group; another org sees nothing.
    assert!(search(&owner, "現金流報表").await.is_empty());
    let rival = t
        .register_email("rival@example.com", "Rival", Some("Rival Ltd"), None)
        .await;
    assert!(search(&rival, "現金流報表").await.is_empty());

    // Jump to the result: the page around it holds it and its neighbours.
    let seq = results[0]["seq"].as_i64().unwrap();
    let (_, page) = bob
        .get_json(&format!(
            "/api/v1/conversations/{finance}/messages?around={seq}&limit=5"
        ))
        .await;
    let seqs: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![seq - 2, seq - 1, seq, seq + 1]);

    // Bad queries are refused.
    let (status, body) = bob.get_json("/api/v1/chat/search?q=%20%20").await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_query"));

    // Edits change what is found; a recalled message is found no more.
    let mid = hit["id"].as_str().unwrap();
    let (status, _) = alice
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{finance}/messages/{mid}"),
            json!({ "body": "今日預算已批核" }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(search(&bob, "現金流報表").await.is_empty());
    assert_eq!(search(&bob, "預算").await.len(), 1);
    alice
        .post_json(
            &format!("/api/v1/conversations/{finance}/messages/{mid}/recall"),
            json!({}),
        )
        .await;
    assert!(search(&bob, "預算").await.is_empty());

    // Someone who leaves a group no longer finds its messages.
    assert_eq!(search(&bob, "report").await.len(), 1);
    let (status, _) = alice
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{finance}/members/{bob_id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(search(&bob, "report").await.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn the_index_survives_a_restart_without_duplicates() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Ops", &[&bob_id]).await;
    for i in 0..3 {
        say(&alice, &g, json!({ "body": format!("伺服器維護通知 {i}") })).await;
    }
    assert_eq!(search(&bob, "維護").await.len(), 3);
    let t = t.restart().await;
    say(&alice, &g, json!({ "body": "伺服器維護完成" })).await;
    let results = search(&bob, "維護").await;
    assert_eq!(results.len(), 4, "{results:?}");
    let mut ids: Vec<&str> = results
        .iter()
        .map(|r| r["message_id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    t.stop().await;
}
