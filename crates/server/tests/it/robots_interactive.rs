//! Robot scopes and interactive cards over real HTTP: what a robot may do
//! (post, receive, read members, open pages) is enforced with DingTalk's
//! "no permission" code and logged; a group admin composes a card whose
//! callback button, clicked by a member, brings the robot's answer from a
//! stand-in robot server; bad buttons are refused with nothing sent.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tram_testkit::RobotReply;

use crate::kit::{error_code, Client};
use crate::robots::{add_robot, errcode, post, text};
use crate::robots_outgoing::{mention, messages, robot_message, session_url, setup};

async fn set_scopes(admin: &Client, g: &str, robot: &str, scopes: &[&str]) -> (u16, Value) {
    let res = admin
        .send(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/robots/{robot}/scopes"),
            json!({ "scopes": scopes }),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn scopes_limit_what_a_robot_may_do() {
    let s = setup(|_| {}).await;
    let (alice, alice_id) = &s.team.alice;
    let (bob, bob_id) = &s.team.bob;
    let t = &s.team.t;
    // A robot without signing, so plain calls authenticate.
    let plain = add_robot(
        alice,
        &s.g,
        json!({ "name": "Reader", "keywords": ["報告"] }),
    )
    .await;
    let (_, list) = alice
        .get_json(&format!("/api/v1/conversations/{}/robots", s.g))
        .await;
    // Defaults: post, plus receive with outgoing settings.
    assert_eq!(list[0]["scopes"], json!(["post", "receive"]));
    assert_eq!(list[1]["scopes"], json!(["post"]));

    // Reading members needs read_members: refused and logged.
    let members_url = plain.webhook.replace("/robot/send?", "/robot/members?");
    let refused: Value = reqwest::get(&members_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&refused), 60011, "{refused}");
    assert!(refused.get("members").is_none());

    // An unknown scope changes nothing; members who are not admins cannot.
    let (status, body) = set_scopes(alice, &s.g, &plain.id, &["read_members", "admin"]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_scope");
    let (status, _) = set_scopes(bob, &s.g, &plain.id, &["read_members"]).await;
    assert_eq!(status, 403);
    let (status, changed) = set_scopes(alice, &s.g, &plain.id, &["read_members"]).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["scopes"], json!(["read_members"]));

    let listed: Value = reqwest::get(&members_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errcode(&listed), 0, "{listed}");
    let mut ids: Vec<&str> = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userid"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![alice_id.as_str(), bob_id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "Bob"));
    // Without post it may not post any more.
    let answer = post(&plain.webhook, &text("報告: 今日")).await;
    assert_eq!(errcode(&answer), 60011);
    assert!(!messages(alice, &s.g)
        .await
        .iter()
        .any(|m| m["body"].as_str().unwrap().contains("今日")));
    let (_, log) = alice
        .get_json(&format!(
            "/api/v1/conversations/{}/robot-calls?errcode=60011",
            s.g
        ))
        .await;
    assert_eq!(log.as_array().unwrap().len(), 2, "both refusals logged");
    assert!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'robot.changed' AND detail LIKE '%read_members%'")
            .await
            >= 1
    );

    // Without receive, a mention calls nobody.
    let (status, _) = set_scopes(alice, &s.g, &s.robot.id, &["post"]).await;
    assert_eq!(status, 200);
    mention(alice, &s.g, &s.robot, "有人嗎?").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(s.server.requests().is_empty());
    // With it back, the next mention is delivered.
    set_scopes(alice, &s.g, &s.robot.id, &["post", "receive"]).await;
    mention(alice, &s.g, &s.robot, "現在呢?").await;
    let requests = s.server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body["text"]["content"], " 現在呢?");
    // A session of a robot that lost `post` is refused.
    set_scopes(alice, &s.g, &s.robot.id, &["receive"]).await;
    let hook = session_url(t, &requests[0]);
    assert_eq!(errcode(&post(&hook, &text("回覆")).await), 60011);
    s.team.t.server.stop().await;
}

async fn compose(admin: &Client, g: &str, card: Value) -> (u16, Value) {
    let (status, body) = admin
        .post_json(&format!("/api/v1/conversations/{g}/robot-cards"), card)
        .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_callback_button_click_brings_the_robots_answer_to_the_group() {
    let s = setup(|_| {}).await;
    let (alice, _) = &s.team.alice;
    let (bob, bob_id) = &s.team.bob;
    s.server.reply_always(RobotReply::Json(text("已批准 ✅")));
    let (status, card) = compose(
        alice,
        &s.g,
        json!({
            "robot_id": s.robot.id, "title": "出差申請", "text": "**東京** 3 日",
            "b0_label": "詳情", "b0_kind": "url", "b0_target": "https://erp.example.com/trip/1",
            "b1_label": "同意", "b1_kind": "callback", "b1_value": "approve",
        }),
    )
    .await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["robot_id"], s.robot.id.as_str());
    let html = card["html"].as_str().unwrap();
    assert!(
        html.contains("href=\"https://erp.example.com/trip/1\""),
        "{html}"
    );
    assert!(html.contains("data-card-callback=\"1\""), "{html}");
    let card_id = card["id"].as_str().unwrap();

    // Bob, a member, clicks "同意".
    let click = format!("/api/v1/conversations/{}/messages/{card_id}/buttons/1", s.g);
    let (status, body) = bob.post_json(&click, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let requests = s.server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert!(r.sign_ok);
    assert_eq!(r.body["msgtype"], "actionCallback");
    assert_eq!(r.body["actionCallback"]["value"], "approve");
    assert_eq!(r.body["actionCallback"]["buttonTitle"], "同意");
    assert_eq!(r.body["senderId"], bob_id.as_str());
    assert_eq!(r.body["senderNick"], "Bob");
    assert_eq!(r.body["msgId"], card_id);
    assert_eq!(r.body["conversationId"], s.g.as_str());
    assert!(r.body["sessionWebhook"]
        .as_str()
        .unwrap()
        .contains("session="));
    let answer = robot_message(bob, &s.g, "已批准").await;
    assert_eq!(answer["robot_id"], s.robot.id.as_str());

    // A link button is not a callback; strangers cannot click.
    let (status, body) = bob
        .post_json(
            &format!("/api/v1/conversations/{}/messages/{card_id}/buttons/0", s.g),
            json!({}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "not_a_button");
    let (status, _) = s.team.owner.post_json(&click, json!({})).await;
    assert!(status == 403 || status == 404, "{status}");
    // Without the CSRF token (a plain cookie-less client) nothing happens.
    let res = reqwest::Client::new()
        .post(format!("{}{click}", s.team.t.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.server.requests().len(), 1);
    s.team.t.server.stop().await;
}

#[tokio::test]
async fn bad_card_buttons_are_refused_and_nothing_is_sent() {
    let s = setup(|_| {}).await;
    let (alice, _) = &s.team.alice;
    let (bob, _) = &s.team.bob;
    let before = messages(alice, &s.g).await.len();
    let card = |kind: &str, target: &str, values: &str| {
        json!({
            "robot_id": s.robot.id, "title": "T", "text": "x",
            "b0_label": "Go", "b0_kind": kind, "b0_target": target, "b0_values": values,
        })
    };
    for (kind, target, values, code) in [
        ("url", "ftp://files.example.com/a", "", "invalid_button"),
        ("url", "javascript:alert(1)", "", "invalid_button"),
        ("page", "/forms/travel", "", "button_needs_scope"),
        ("teleport", "https://a.example/", "", "invalid_button"),
    ] {
        let (status, body) = compose(alice, &s.g, card(kind, target, values)).await;
        assert_eq!(status, 400, "{kind} {target}: {body}");
        assert_eq!(error_code(&body), code, "{kind} {target}");
    }
    // Members who are not admins cannot send cards.
    let (status, _) = compose(bob, &s.g, card("url", "https://a.example/", "")).await;
    assert_eq!(status, 403);
    // Pages need start_forms, a path beginning with "/" and key=value lines.
    let (status, _) = set_scopes(
        alice,
        &s.g,
        &s.robot.id,
        &["post", "receive", "start_forms"],
    )
    .await;
    assert_eq!(status, 200);
    for (target, values) in [
        ("forms/travel", ""),
        ("//evil.example.com/x", ""),
        ("https://evil.example.com/", ""),
        ("/forms/travel", "no equals sign"),
    ] {
        let (status, body) = compose(alice, &s.g, card("page", target, values)).await;
        assert_eq!(status, 400, "{target} {values}: {body}");
        assert_eq!(error_code(&body), "invalid_button");
    }
    // A robot without outgoing settings cannot carry callback buttons.
    let plain = add_robot(alice, &s.g, json!({ "name": "Plain", "signing": true })).await;
    let (status, body) = compose(
        alice,
        &s.g,
        json!({ "robot_id": plain.id, "title": "T", "b0_label": "Yes", "b0_kind": "callback" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "button_needs_scope");
    assert_eq!(
        messages(alice, &s.g).await.len(),
        before,
        "nothing was sent"
    );

    // A good page button: the values become the query string.
    let (status, sent) = compose(
        alice,
        &s.g,
        card("page", "/forms/travel", "destination=東京\ndays=3"),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let html = sent["html"].as_str().unwrap();
    assert!(
        html.contains("href=\"/forms/travel?destination=%E6%9D%B1%E4%BA%AC&amp;days=3\""),
        "{html}"
    );
    s.team.t.server.stop().await;
}

#[tokio::test]
async fn member_reads_count_against_the_rate_limit() {
    let s = setup(|c| c.bots.rate_limit_per_minute = 2).await;
    let (alice, _) = &s.team.alice;
    let reader = add_robot(
        alice,
        &s.g,
        json!({ "name": "Reader", "keywords": ["報告"] }),
    )
    .await;
    set_scopes(alice, &s.g, &reader.id, &["read_members", "post"]).await;
    let members_url = reader.webhook.replace("/robot/send?", "/robot/members?");
    let read = || async {
        let answer: Value = reqwest::get(&members_url)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        errcode(&answer)
    };
    assert_eq!(read().await, 0);
    assert_eq!(errcode(&post(&reader.webhook, &text("報告 1")).await), 0);
    // Two calls this minute: the third, read or post, is refused.
    assert_eq!(read().await, 130101);
    assert_eq!(
        errcode(&post(&reader.webhook, &text("報告 2")).await),
        130101
    );
    s.team.t.advance(61);
    assert_eq!(read().await, 0);
    s.team.t.server.stop().await;
}
