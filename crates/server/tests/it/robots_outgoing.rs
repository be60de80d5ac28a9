//! Outgoing robots over real HTTP: a group admin gives a custom robot a
//! callback address, a member @mentions it, and Tram POSTs DingTalk's
//! callback JSON, signed, to a stand-in developer server (which checks the
//! signature on its own). The robot answers in the response body or later
//! through the session webhook; failures are retried with backoff, and
//! every attempt is in the call log.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tram_platform::jobs::{self, JobState};
use tram_testkit::{RobotReply, RobotRequest, RobotServer};

use crate::chat::{group, say, team_with, Team};
use crate::kit::{error_code, Client, TestServer};
use crate::robots::{add_robot, errcode, post, text, Robot};

/// Sets a robot's callback address; returns the app secret (first time).
pub(crate) async fn set_outgoing(admin: &Client, g: &str, robot: &str, url: &str) -> (u16, Value) {
    let res = admin
        .send(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/robots/{robot}/outgoing"),
            json!({ "callback_url": url }),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Alice's group "Finance" with Bob, a robot "Helper" of hers with
/// outgoing settings pointing at a stand-in server.
pub(crate) struct Setup {
    pub(crate) team: Team,
    pub(crate) g: String,
    pub(crate) robot: Robot,
    pub(crate) server: RobotServer,
}

pub(crate) async fn setup(adjust: impl FnOnce(&mut tram_platform::config::Config)) -> Setup {
    let team = team_with(|c| {
        c.jobs.poll_ms = 50;
        adjust(c);
    })
    .await;
    let (alice, _) = &team.alice;
    let g = group(alice, "Finance", &[&team.bob.1]).await;
    let robot = add_robot(alice, &g, json!({ "name": "Helper", "signing": true })).await;
    let server = RobotServer::start().await;
    let (status, body) = set_outgoing(alice, &g, &robot.id, &server.callback_url()).await;
    assert_eq!(status, 200, "{body}");
    let secret = body["app_secret"].as_str().expect("the app secret, once");
    server.set_secret(secret);
    Setup {
        team,
        g,
        robot,
        server,
    }
}

pub(crate) async fn mention(c: &Client, g: &str, robot: &Robot, words: &str) -> Value {
    say(
        c,
        g,
        json!({ "body": format!("@Helper {words}"), "robot_mentions": [robot.id] }),
    )
    .await
}

pub(crate) async fn messages(c: &Client, g: &str) -> Vec<Value> {
    let (status, history) = c
        .get_json(&format!("/api/v1/conversations/{g}/messages?limit=100"))
        .await;
    assert_eq!(status, 200, "{history}");
    history.as_array().unwrap().clone()
}

/// Waits (real time) until the group has a message from the robot whose
/// body contains `needle`.
pub(crate) async fn robot_message(c: &Client, g: &str, needle: &str) -> Value {
    for _ in 0..100 {
        if let Some(m) = messages(c, g)
            .await
            .into_iter()
            .find(|m| m["robot_id"].is_string() && m["body"].as_str().unwrap().contains(needle))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no robot message with {needle:?}");
}

async fn out_calls(admin: &Client, g: &str) -> Vec<Value> {
    let (status, calls) = admin
        .get_json(&format!("/api/v1/conversations/{g}/robot-calls"))
        .await;
    assert_eq!(status, 200, "{calls}");
    let mut out: Vec<Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["direction"] == "out")
        .cloned()
        .collect();
    out.sort_by_key(|c| c["attempt"].as_i64());
    out
}

/// The session webhook of a callback, aimed at the test server (the
/// test configuration has no public address).
pub(crate) fn session_url(t: &TestServer, request: &RobotRequest) -> String {
    let hook = request.body["sessionWebhook"].as_str().unwrap();
    let path = &hook[hook
        .find("/robot/sendBySession?session=")
        .expect("DingTalk's path")..];
    format!("{}{path}", t.base)
}

#[tokio::test]
async fn bad_outgoing_settings_are_refused_and_change_nothing() {
    let team = team_with(|_| {}).await;
    let (alice, _) = &team.alice;
    let (bob, _) = &team.bob;
    let g = group(alice, "Finance", &[&team.bob.1]).await;
    let robot = add_robot(alice, &g, json!({ "name": "Helper", "signing": true })).await;
    for bad in [
        "ftp://erp.example.com/cb",
        "javascript:alert(1)",
        "/relative",
        "https://user:pw@example.com/cb",
    ] {
        let (status, body) = set_outgoing(alice, &g, &robot.id, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(error_code(&body), "invalid_callback_url");
    }
    // Nothing was created: no settings, no secret, nothing audited.
    let (status, body) = alice
        .get_json(&format!(
            "/api/v1/conversations/{g}/robots/{}/outgoing",
            robot.id
        ))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "no_outgoing");
    assert_eq!(team.t.count("SELECT COUNT(*) FROM robot_outgoing").await, 0);
    // Members who are not admins cannot set it.
    let (status, _) = set_outgoing(bob, &g, &robot.id, "https://erp.example.com/cb").await;
    assert_eq!(status, 403);

    // A good address: the secret comes once; changing the address keeps it.
    let (status, first) = set_outgoing(alice, &g, &robot.id, "https://erp.example.com/cb").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["app_secret"].as_str().unwrap().len(), 64);
    let (_, second) = set_outgoing(alice, &g, &robot.id, "https://erp.example.com/v2").await;
    assert!(second["app_secret"].is_null(), "{second}");
    assert_eq!(
        second["outgoing"]["callback_url"],
        "https://erp.example.com/v2"
    );
    let (_, list) = alice
        .get_json(&format!("/api/v1/conversations/{g}/robots"))
        .await;
    assert_eq!(list[0]["callback_url"], "https://erp.example.com/v2");
    // The secret is stored sealed, not as given.
    let (_, renewed) = alice
        .post_json(
            &format!(
                "/api/v1/conversations/{g}/robots/{}/outgoing/secret",
                robot.id
            ),
            json!({}),
        )
        .await;
    let renewed = renewed["app_secret"].as_str().unwrap();
    assert_ne!(renewed, first["app_secret"].as_str().unwrap());
    assert_eq!(
        team.t
            .count(&format!(
                "SELECT COUNT(*) FROM robot_outgoing WHERE app_secret_sealed LIKE '%{renewed}%'"
            ))
            .await,
        0
    );
    assert_eq!(
        team.t
            .count("SELECT COUNT(*) FROM audit_events WHERE kind LIKE 'robot.%'")
            .await,
        4,
        "created, set, changed, secret reset"
    );
    team.t.server.stop().await;
}

#[tokio::test]
async fn a_mention_calls_the_robot_server_and_its_answer_is_posted() {
    let s = setup(|_| {}).await;
    let (alice, alice_id) = &s.team.alice;
    s.server.reply_always(RobotReply::Json(json!({
        "msgtype": "markdown",
        "markdown": { "title": "營收", "text": "**上季營收**: 1,024 萬" },
    })));
    let asked = mention(alice, &s.g, &s.robot, "上季營收是多少?").await;

    let requests = s.server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert!(r.sign_ok, "sign header checked independently: {r:?}");
    assert!(r
        .content_type
        .as_deref()
        .unwrap()
        .starts_with("application/json"));
    let ts: i64 = r.timestamp.as_deref().unwrap().parse().unwrap();
    assert!((ts - s.team.t.clock.now_ms()).abs() < 60_000);
    let b = &r.body;
    assert_eq!(b["msgtype"], "text");
    assert_eq!(b["text"]["content"], " 上季營收是多少?");
    assert_eq!(b["msgId"], asked["id"]);
    assert_eq!(b["createAt"], asked["created_at"]);
    assert_eq!(b["conversationType"], "2");
    assert_eq!(b["conversationId"], s.g.as_str());
    assert_eq!(b["conversationTitle"], "Finance");
    assert_eq!(b["senderId"], alice_id.as_str());
    assert_eq!(b["senderStaffId"], alice_id.as_str());
    assert_eq!(b["senderNick"], "Alice");
    assert_eq!(b["chatbotUserId"], s.robot.id.as_str());
    assert_eq!(b["robotCode"], s.robot.id.as_str());
    assert_eq!(b["isAdmin"], true, "Alice created the group");
    assert_eq!(b["isInAtList"], true);
    assert_eq!(b["atUsers"][0]["dingtalkId"], s.robot.id.as_str());
    assert!(b["sessionWebhook"]
        .as_str()
        .unwrap()
        .contains("/robot/sendBySession?session="));
    let valid = b["sessionWebhookExpiredTime"].as_i64().unwrap() - ts;
    assert!(
        (5_390_000..=5_410_000).contains(&valid),
        "90 minutes: {valid}"
    );

    // The answer in the body is posted as the robot.
    let answer = robot_message(alice, &s.g, "上季營收").await;
    assert_eq!(answer["robot_id"], s.robot.id.as_str());
    assert_eq!(answer["kind"], "markdown");
    // The attempt is in the call log, with the message it brought.
    let out = out_calls(alice, &s.g).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["attempt"], 1);
    assert_eq!(out[0]["errcode"], 0);
    assert_eq!(out[0]["message_id"], answer["id"]);
    // Only one callback for one mention, even after more polls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.server.requests().len(), 1);
    s.team.t.server.stop().await;
}

#[tokio::test]
async fn a_later_answer_through_the_session_webhook_is_posted_until_it_expires() {
    let s = setup(|_| {}).await;
    let (alice, _) = &s.team.alice;
    mention(alice, &s.g, &s.robot, "日報").await;
    let requests = s.server.wait_for(1, Duration::from_secs(10)).await;
    let hook = session_url(&s.team.t, &requests[0]);

    let answer = post(&hook, &text("日報已生成")).await;
    assert_eq!(errcode(&answer), 0, "{answer}");
    let posted = robot_message(alice, &s.g, "日報已生成").await;
    assert_eq!(posted["robot_id"], s.robot.id.as_str());
    // Not a GET, not an unknown session.
    let res = reqwest::get(&hook).await.unwrap();
    assert_eq!(errcode(&res.json().await.unwrap()), 43002);
    let unknown = format!("{}/robot/sendBySession?session=nope", s.team.t.base);
    let refused = post(&unknown, &text("x")).await;
    assert_eq!(errcode(&refused), 300001);
    assert_eq!(refused["errmsg"], "session 不存在");
    // A bad message through a good session gets the webhook's codes.
    let bad = post(&hook, &json!({ "msgtype": "text" })).await;
    assert_eq!(errcode(&bad), 40035);

    // 90 minutes later the session is gone.
    s.team.t.advance(90 * 60 + 1);
    let expired = post(&hook, &text("太遲了")).await;
    assert_eq!(errcode(&expired), 300001);
    assert!(!messages(alice, &s.g)
        .await
        .iter()
        .any(|m| m["body"].as_str().unwrap().contains("太遲了")));
    // The refusals are in the log.
    let (_, calls) = alice
        .get_json(&format!(
            "/api/v1/conversations/{}/robot-calls?errcode=300001",
            s.g
        ))
        .await;
    assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
    s.team.t.server.stop().await;
}

#[tokio::test]
async fn failed_callbacks_are_retried_with_backoff_and_every_attempt_is_logged() {
    let s = setup(|c| {
        c.bots.outgoing_attempts = 4;
        c.bots.outgoing_retry_base_ms = 2_000;
        c.bots.outgoing_timeout_ms = 300;
    })
    .await;
    let (alice, _) = &s.team.alice;
    s.server.reply_next(RobotReply::Status(500));
    s.server
        .reply_next(RobotReply::Slow(Duration::from_millis(1_000)));
    s.server.reply_next(RobotReply::Json(text("第三次成功")));
    let asked = mention(alice, &s.g, &s.robot, "在嗎?").await;

    assert_eq!(s.server.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    // The next attempt waits 2 s on the server's clock: none comes sooner.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.server.requests().len(), 1);
    s.team.t.advance(2);
    assert_eq!(s.server.wait_for(2, Duration::from_secs(10)).await.len(), 2);
    // Then 4 s (the second attempt timed out).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(s.server.requests().len(), 2);
    s.team.t.advance(4);
    assert_eq!(s.server.wait_for(3, Duration::from_secs(10)).await.len(), 3);
    robot_message(alice, &s.g, "第三次成功").await;

    let out = out_calls(alice, &s.g).await;
    let seen: Vec<(i64, i64, &str)> = out
        .iter()
        .map(|c| {
            (
                c["attempt"].as_i64().unwrap(),
                c["errcode"].as_i64().unwrap(),
                c["errmsg"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![(1, -1, "HTTP 500"), (2, -1, "timed out"), (3, 0, "ok")]
    );
    // Every attempt was signed, and each carries its own session.
    let requests = s.server.requests();
    assert!(requests.iter().all(|r| r.sign_ok));
    assert_ne!(
        requests[0].body["sessionWebhook"],
        requests[2].body["sessionWebhook"]
    );
    let key = format!(
        "robot.outgoing:mention:{}:{}",
        asked["id"].as_str().unwrap(),
        s.robot.id
    );
    let state = s.team.t.state();
    // The runner settles the job just after its handler posted the reply.
    let mut status = None;
    for _ in 0..100 {
        let now = jobs::status(&state.db, &key, state.clock.now_ms())
            .await
            .unwrap()
            .unwrap();
        if now.state == JobState::Done {
            status = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("the job is done");
    assert_eq!(status.attempts, 3);
    // The outgoing attempts do not count against the robot's rate limit.
    assert_eq!(
        s.team
            .t
            .count(&format!(
                "SELECT COUNT(*) FROM robot_calls WHERE robot_id = '{}' AND direction = 'in'",
                s.robot.id
            ))
            .await,
        0
    );
    // The admin's call log page shows each attempt, outgoing.
    let page = alice
        .get(&format!("/chat/{}/robots/log", s.g))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("data-direction=\"out\"").count(), 3, "{page}");
    assert!(
        page.contains("Attempt 2") || page.contains("第 2 次嘗試"),
        "{page}"
    );
    assert!(page.contains("timed out"));
    s.team.t.server.stop().await;
}

#[tokio::test]
async fn an_unreachable_robot_server_fails_the_job_after_its_attempts() {
    let s = setup(|c| {
        c.bots.outgoing_attempts = 2;
        c.bots.outgoing_retry_base_ms = 1_000;
    })
    .await;
    let (alice, _) = &s.team.alice;
    // Point the robot at a port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/cb", l.local_addr().unwrap())
    };
    let (status, _) = set_outgoing(alice, &s.g, &s.robot.id, &closed).await;
    assert_eq!(status, 200);
    mention(alice, &s.g, &s.robot, "hello").await;
    let mut out = Vec::new();
    for _ in 0..100 {
        out = out_calls(alice, &s.g).await;
        if out.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["errmsg"], "connection failed");
    s.team.t.advance(1);
    for _ in 0..100 {
        out = out_calls(alice, &s.g).await;
        if out.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1]["attempt"], 2);
    // Given up: no third attempt however long we wait.
    s.team.t.advance(3600);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(out_calls(alice, &s.g).await.len(), 2);
    s.team.t.server.stop().await;
}
