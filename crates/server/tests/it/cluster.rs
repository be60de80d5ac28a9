//! Two `tram serve` nodes sharing one PostgreSQL database and one NATS
//! server: a message posted through node A reaches a socket on node B, and
//! when B goes away its clients reconnect to A and resume without loss;
//! job runners on both nodes fire each due job (a robot's schedule, an
//! approval's deadline) once.
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

/// Two nodes on one PostgreSQL database, both running their job runners
/// (polling every 50 ms): when approval deadlines fall due, each task moves
/// to the approver's delegate exactly once.
#[tokio::test]
async fn an_approval_deadline_moves_the_task_to_the_delegate_once_with_two_nodes() {
    if !cluster_available() {
        eprintln!(
            "skipped: set TRAM_TEST_DATABASE_URL and TRAM_TEST_NATS_URL to run the two-node test"
        );
        return;
    }
    use crate::approvals::{
        actions, create_template, expense_design, instance_of, office_with, set_delegate, submit,
        task_of,
    };
    let o = office_with(|c| c.jobs.poll_ms = 50).await;
    let node_b = o.t.second_node().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (status, body) = set_delegate(&o.bob.0, json!({ "delegate_id": o.owner.1 })).await;
    assert_eq!(status, 200, "{body}");
    // Several requests, so both runners find work due at the same moment.
    let mut requests = Vec::new();
    for i in 0..6 {
        let (status, request) = submit(
            &o.alice.0,
            &template,
            json!({ "reason": format!("文具 {i}"), "amount": 100 + i }),
        )
        .await;
        assert_eq!(status, 200, "{request}");
        task_of(&request, &o.bob.1);
        requests.push(request["id"].as_str().unwrap().to_string());
    }

    // Both nodes share the clock: past the deadline for both at once.
    o.t.advance(24 * 3600 + 60);
    let all_moved = || async {
        o.t.count("SELECT COUNT(*) FROM approval_trail WHERE action = 'delegated'")
            .await
    };
    let started = std::time::Instant::now();
    while all_moved().await < requests.len() as i64 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the deadlines fired on neither node"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Give a late second firing time to show itself.
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    for id in &requests {
        let now = instance_of(&o.alice.0, id).await;
        let trail = actions(&now);
        assert_eq!(
            trail.iter().filter(|a| *a == "delegated").count(),
            1,
            "{now}"
        );
        // The reminder fell due too; it is never sent twice (and not at
        // all if the timeout ran first).
        assert!(
            trail.iter().filter(|a| *a == "reminded").count() <= 1,
            "{now}"
        );
        let tasks = now["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 2, "{now}");
        assert_eq!(
            tasks.iter().filter(|t| t["status"] == "moved").count(),
            1,
            "{now}"
        );
        task_of(&now, &o.owner.1);
    }
    assert_eq!(
        o.t.count("SELECT COUNT(*) FROM approval_tasks WHERE status = 'pending'")
            .await,
        requests.len() as i64
    );
    // Every timeout job finished once; none is left to run again.
    assert_eq!(
        o.t.count(
            "SELECT COUNT(*) FROM jobs WHERE job_key LIKE 'approval.timeout:%' AND finished_at IS NULL"
        )
        .await,
        requests.len() as i64,
        "only the delegates' own deadlines are still waiting"
    );
    node_b.stop().await;
    o.t.stop().await;
}
