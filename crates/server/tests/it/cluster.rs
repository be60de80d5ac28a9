//! Two `tram serve` nodes sharing one PostgreSQL database and one NATS
//! server: a message posted through node A reaches a socket on node B, and
//! when B goes away its clients reconnect to A and resume without loss.
//! Needs `TRAM_TEST_DATABASE_URL` and `TRAM_TEST_NATS_URL` (CI sets both).

use serde_json::json;

use crate::kit::{cluster_available, Client, TestServer};

#[tokio::test]
async fn a_message_crosses_nodes_and_clients_fail_over_without_loss() {
    if !cluster_available() {
        eprintln!(
            "skipped: set TRAM_TEST_DATABASE_URL and TRAM_TEST_NATS_URL to run the two-node test"
        );
        return;
    }
    let node_a = TestServer::start().await;
    let node_b = node_a.second_node().await;
    let owner = node_a.setup().await;
    let code = node_a.invite(&owner, "member").await;
    let alice = node_a
        .register_email("alice@example.com", "Alice", None, Some(&code))
        .await;
    let bob_on_a = node_a
        .register_email("bob@example.com", "Bob", None, Some(&code))
        .await;
    let bob_id = bob_on_a.get_json("/api/v1/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, created) = alice
        .post_json(
            "/api/v1/conversations",
            json!({ "name": "跨節點", "member_ids": [bob_id] }),
        )
        .await;
    let g = created["conversation_id"].as_str().unwrap().to_string();

    // Bob's browser talks to node B.
    let bob: Client = bob_on_a.on(&node_b.base);
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    let started = std::time::Instant::now();
    let (_, sent) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/messages"),
            json!({ "body": "from node A" }),
        )
        .await;
    let got = socket.expect("message", 3.0).await;
    assert_eq!(got["message"]["id"], sent["id"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "crossed nodes in {:?}",
        started.elapsed()
    );
    let last_seen = got["message"]["seq"].as_i64().unwrap();
    socket.expect("notify", 1.0).await;
    // Node B keeps its own search index, fed from the shared change log.
    let (status, found) = bob.get_json("/api/v1/chat/search?q=node").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found[0]["message_id"], sent["id"], "{found}");

    // Node B dies; meanwhile Alice keeps writing through A.
    node_b.server.stop().await;
    let after_stop = socket.next_within(6.0).await;
    assert!(
        after_stop.is_none(),
        "B's sockets are closed, got {after_stop:?}"
    );
    for i in 1..=3 {
        alice
            .post_json(
                &format!("/api/v1/conversations/{g}/messages"),
                json!({ "body": format!("while B was down {i}") }),
            )
            .await;
    }
    // Bob's client reconnects, to A, and resumes.
    let bob = bob.on(&node_a.base);
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    socket
        .send(json!({ "type": "resume", "cursors": { g.clone(): last_seen } }))
        .await;
    let events = socket.drain(0.5).await;
    let bodies: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "message")
        .map(|e| e["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec![
            "while B was down 1",
            "while B was down 2",
            "while B was down 3"
        ]
    );
    node_a.stop().await;
}

#[tokio::test]
async fn a_robots_rate_limit_holds_when_its_calls_alternate_between_nodes() {
    if !cluster_available() {
        eprintln!(
            "skipped: set TRAM_TEST_DATABASE_URL and TRAM_TEST_NATS_URL to run the two-node test"
        );
        return;
    }
    use crate::robots::{add_robot, errcode, post, text};
    let node_a = TestServer::start_with(|c| c.bots.rate_limit_per_minute = 5).await;
    let node_b = node_a.second_node().await;
    let owner = node_a.setup().await;
    let (_, created) = owner
        .post_json(
            "/api/v1/conversations",
            json!({ "name": "限流", "member_ids": [] }),
        )
        .await;
    let g = created["conversation_id"].as_str().unwrap().to_string();
    let robot = add_robot(&owner, &g, json!({ "name": "Burst", "keywords": ["報表"] })).await;
    let on_b = robot.webhook.replace(&node_a.base, &node_b.base);
    assert_ne!(on_b, robot.webhook);

    // Twelve calls at once, every other one through node B: five pass.
    let calls = (0..12).map(|i| {
        let url = if i % 2 == 0 {
            robot.webhook.clone()
        } else {
            on_b.clone()
        };
        async move { errcode(&post(&url, &text(&format!("報表 {i}"))).await) }
    });
    let codes = futures::future::join_all(calls).await;
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 5, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == 130101).count(),
        7,
        "{codes:?}"
    );
    // One after another on alternate nodes: still refused this minute.
    assert_eq!(errcode(&post(&on_b, &text("報表 b")).await), 130101);
    assert_eq!(
        errcode(&post(&robot.webhook, &text("報表 a")).await),
        130101
    );
    // A minute later each node admits again, and the count is shared.
    node_a.advance(61);
    for i in 0..5 {
        let url = if i % 2 == 0 { &on_b } else { &robot.webhook };
        assert_eq!(
            errcode(&post(url, &text(&format!("報表 later {i}"))).await),
            0
        );
    }
    assert_eq!(
        errcode(&post(&robot.webhook, &text("報表 6th")).await),
        130101
    );
    let (_, history) = owner
        .get_json(&format!("/api/v1/conversations/{g}/messages?limit=100"))
        .await;
    assert_eq!(history.as_array().unwrap().len(), 10);
    node_b.server.stop().await;
    node_a.server.stop().await;
}

/// Two nodes on one PostgreSQL database, both polling for due jobs every
/// 50 ms: each scheduled run posts once.
#[tokio::test]
async fn a_scheduled_robot_posts_once_with_two_nodes_polling() {
    if !cluster_available() {
        eprintln!(
            "skipped: set TRAM_TEST_DATABASE_URL and TRAM_TEST_NATS_URL to run the two-node test"
        );
        return;
    }
    use crate::robots_schedule::{add_schedule, cash_report, robot_posts, wait_for_posts};
    let node_a = TestServer::start_with(|c| c.jobs.poll_ms = 50).await;
    let node_b = node_a.second_node().await;
    let owner = node_a.setup().await;
    let (_, created) = owner
        .post_json(
            "/api/v1/conversations",
            json!({ "name": "兩節點", "member_ids": [] }),
        )
        .await;
    let g = created["conversation_id"].as_str().unwrap().to_string();
    let made = add_schedule(&owner, &g, cash_report()).await;
    let robot = made["robot_id"].as_str().unwrap().to_string();
    let mut due = made["next_due"].as_i64().unwrap();
    for n in 1..=3 {
        // Both nodes share the clock; both see the run due at once.
        let now = node_a.clock.now_ms();
        node_a.advance(((due - now) as u64).div_ceil(1_000) + 1);
        wait_for_posts(&node_a, &robot, n).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(robot_posts(&node_b, &robot).await, n, "one post per run");
        let (_, list) = owner
            .get_json(&format!("/api/v1/conversations/{g}/scheduled-robots"))
            .await;
        due = list[0]["next_due"].as_i64().unwrap();
    }
    assert_eq!(
        node_a
            .count(&format!(
                "SELECT COUNT(*) FROM jobs WHERE job_key LIKE 'robot.schedule:{robot}:%' AND finished_at IS NULL"
            ))
            .await,
        1
    );
    node_b.stop().await;
    node_a.stop().await;
}
