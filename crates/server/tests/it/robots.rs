//! Custom webhook robots over real HTTP: a group admin adds a robot, and a
//! plain HTTP client (no session) posts DingTalk's JSON to its webhook
//! address. Every message type renders safely in the group, the security
//! settings (signature, keywords, IP allow-list) answer with DingTalk's
//! codes, robots are rate-limited, stopped, re-keyed and removed, and
//! @mentions notify over the WebSocket. (Management rights, the call log
//! and the page policy: robots_admin.rs.)

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::chat::{group, team, team_with, user_id, Team};
use crate::kit::{error_code, Client, TestServer, PASSWORD};

/// A robot of a group, as its admin got it.
pub(crate) struct Robot {
    pub(crate) id: String,
    pub(crate) webhook: String,
    pub(crate) secret: Option<String>,
}

pub(crate) async fn add_robot(admin: &Client, group: &str, settings: Value) -> Robot {
    let (status, body) = admin
        .post_json(&format!("/api/v1/conversations/{group}/robots"), settings)
        .await;
    assert_eq!(status, 200, "{body}");
    Robot {
        id: body["robot"]["id"].as_str().unwrap().to_string(),
        webhook: body["webhook_url"].as_str().unwrap().to_string(),
        secret: body["secret"].as_str().map(str::to_string),
    }
}

/// DingTalk's signature, computed here independently of the server.
fn sign(secret: &str, timestamp: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    url::form_urlencoded::byte_serialize(b64.as_bytes()).collect()
}

/// POSTs a robot message to `url` as a machine would (no cookies).
pub(crate) async fn post(url: &str, body: &Value) -> Value {
    let res = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "DingTalk answers 200 whatever happens");
    res.json().await.unwrap()
}

async fn signed(t: &TestServer, robot: &Robot, body: &Value) -> Value {
    let now = t.clock.now_ms();
    let secret = robot.secret.as_deref().expect("a signing robot");
    post(
        &format!(
            "{}&timestamp={now}&sign={}",
            robot.webhook,
            sign(secret, now)
        ),
        body,
    )
    .await
}

pub(crate) fn text(content: &str) -> Value {
    json!({ "msgtype": "text", "text": { "content": content } })
}

pub(crate) fn errcode(answer: &Value) -> i64 {
    answer["errcode"]
        .as_i64()
        .unwrap_or_else(|| panic!("no errcode in {answer}"))
}

/// Whether any real tag (escaped text has no `<`) carries an `on…=`
/// attribute.
fn has_event_handler(html: &str) -> bool {
    html.split('<').skip(1).any(|rest| {
        let tag = rest.split('>').next().unwrap_or("").to_ascii_lowercase();
        tag.match_indices(" on").any(|(i, _)| {
            let name: String = tag[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            !name.is_empty() && tag[i + 3 + name.len()..].trim_start().starts_with('=')
        })
    })
}

pub(crate) async fn last_message(c: &Client, group: &str) -> Value {
    let (status, history) = c
        .get_json(&format!("/api/v1/conversations/{group}/messages"))
        .await;
    assert_eq!(status, 200, "{history}");
    history
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .expect("a message")
}

/// Only loopback callers (the test client): the simplest security setting.
pub(crate) fn local_only(name: &str) -> Value {
    json!({ "name": name, "ip_allowlist": ["127.0.0.0/8"] })
}

#[tokio::test]
async fn every_message_type_renders_in_the_group() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "資金管理群組", &[&bob_id]).await;
    let robot = add_robot(
        &alice,
        &g,
        json!({ "name": "ERP 機器人", "avatar_url": "https://erp.example.com/bot.png", "ip_allowlist": ["127.0.0.0/8"] }),
    )
    .await;
    assert!(
        robot
            .webhook
            .starts_with(&format!("{}/robot/send?access_token=", t.base)),
        "{}",
        robot.webhook
    );
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;

    // text
    assert_eq!(
        post(&robot.webhook, &text("訂單 SO-1001 已出貨\n第二行")).await,
        json!({ "errcode": 0, "errmsg": "ok" })
    );
    let live = socket.expect("message", 2.0).await;
    let m = &live["message"];
    assert_eq!(m["kind"], "text");
    assert_eq!(m["sender_name"], "ERP 機器人");
    assert_eq!(m["sender_avatar"], "https://erp.example.com/bot.png");
    assert_eq!(m["robot_id"], robot.id.as_str());
    assert!(m["sender_id"].is_null());
    assert_eq!(m["html"], "訂單 SO-1001 已出貨<br>第二行");
    assert_eq!(
        last_message(&bob, &g).await["id"],
        m["id"],
        "history has what the socket delivered"
    );

    // markdown (DingTalk's subset: headings, quotes, pictures, links wrapped by clients)
    let markdown = json!({ "msgtype": "markdown", "markdown": { "title": "昨日現金流",
        "text": "#### 昨日現金流報表\n> 淨流入 **HK$1,250,000**\n\n![圖表](https://erp.example.com/chart.png)\n\n[詳情](dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Ferp.example.com%2Fcash&pc_slide=false)" } });
    assert_eq!(errcode(&post(&robot.webhook, &markdown).await), 0);
    let m = last_message(&bob, &g).await;
    assert_eq!(m["kind"], "markdown");
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("<h4>昨日現金流報表</h4>"), "{html}");
    assert!(html.contains("<strong>HK$1,250,000</strong>"), "{html}");
    assert!(
        html.contains("<img src=\"https://erp.example.com/chart.png\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://erp.example.com/cash\""),
        "{html}"
    );

    // link
    let link = json!({ "msgtype": "link", "link": { "title": "訂單變更", "text": "SO-1002 數量由 10 改為 12",
        "messageUrl": "https://erp.example.com/so/1002", "picUrl": "https://erp.example.com/so.png" } });
    assert_eq!(errcode(&post(&robot.webhook, &link).await), 0);
    let m = last_message(&bob, &g).await;
    assert_eq!(m["kind"], "card");
    assert_eq!(m["card"]["type"], "link");
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("href=\"https://erp.example.com/so/1002\""),
        "{html}"
    );
    assert!(
        html.contains("<img class=\"card-picture\" src=\"https://erp.example.com/so.png\""),
        "{html}"
    );
    assert!(
        m["body"].as_str().unwrap().contains("SO-1002"),
        "the body holds the card's words"
    );

    // actionCard with one button
    let single = json!({ "msgtype": "actionCard", "actionCard": { "title": "差旅申請", "text": "### 陳大文 申請出差\n請審批",
        "btnOrientation": "0", "singleTitle": "查看詳情", "singleURL": "https://erp.example.com/trip/7" } });
    assert_eq!(errcode(&post(&robot.webhook, &single).await), 0);
    let html = last_message(&bob, &g).await["html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(html.contains("<h3>陳大文 申請出差</h3>"), "{html}");
    assert!(html.contains("card-buttons vertical"), "{html}");
    assert_eq!(html.matches("class=\"card-button\"").count(), 1, "{html}");

    // actionCard with several buttons side by side
    let multi = json!({ "msgtype": "actionCard", "actionCard": { "title": "採購單", "text": "PO-88 待處理", "btnOrientation": "1",
        "btns": [{ "title": "同意", "actionURL": "https://erp.example.com/po/88/yes" }, { "title": "拒絕", "actionURL": "https://erp.example.com/po/88/no" }] } });
    assert_eq!(errcode(&post(&robot.webhook, &multi).await), 0);
    let m = last_message(&bob, &g).await;
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("card-buttons horizontal"), "{html}");
    assert!(
        html.contains("href=\"https://erp.example.com/po/88/no\""),
        "{html}"
    );
    assert_eq!(m["card"]["buttons"].as_array().unwrap().len(), 2);

    // feedCard
    let feed = json!({ "msgtype": "feedCard", "feedCard": { "links": [
        { "title": "今日匯率", "messageURL": "https://erp.example.com/fx", "picURL": "https://erp.example.com/fx.png" },
        { "title": "應收賬款", "messageURL": "https://erp.example.com/ar", "picURL": "https://erp.example.com/ar.png" } ] } });
    assert_eq!(errcode(&post(&robot.webhook, &feed).await), 0);
    let html = last_message(&bob, &g).await["html"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(html.matches("<li>").count(), 2, "{html}");
    assert!(
        html.contains("今日匯率") && html.contains("https://erp.example.com/ar.png"),
        "{html}"
    );

    // Robot messages are found by search like any other.
    let (status, results) = bob
        .get_json("/api/v1/chat/search?q=%E6%87%89%E6%94%B6%E8%B3%AC%E6%AC%BE")
        .await;
    assert_eq!(status, 200, "{results}");
    let hit = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.to_string().contains("應收賬款"))
        .expect("the feed card is found");
    assert_eq!(hit["sender_name"], "ERP 機器人", "{hit}");
    t.stop().await;
}

#[tokio::test]
async fn script_in_every_field_is_neutralised() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "XSS", &[&bob_id]).await;
    // The robot's own name and picture.
    let (status, body) = alice
        .post_json(&format!("/api/v1/conversations/{g}/robots"), json!({ "name": "bot", "avatar_url": "javascript:alert(1)", "ip_allowlist": ["127.0.0.1"] }))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_avatar")
    );
    let robot = add_robot(
        &alice,
        &g,
        json!({ "name": "<script>alert('name')</script>", "ip_allowlist": ["127.0.0.1"] }),
    )
    .await;
    let section = alice
        .get(&format!("/chat/{g}/robots"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !section.contains("<script>"),
        "the admin's page escapes the name: {section}"
    );
    assert!(
        section.contains("script&#62;alert("),
        "the name is shown, as text: {section}"
    );

    let attack = "<script>alert(1)</script><img src=x onerror=alert(1)>";
    for body in [
        text(attack),
        json!({ "msgtype": "markdown", "markdown": { "title": attack,
            "text": format!("{attack} [x](javascript:alert(1)) ![y](javascript:alert(2)) <font color=\"red\" onmouseover=\"alert(3)\">z</font>") } }),
        json!({ "msgtype": "link", "link": { "title": attack, "text": attack, "messageUrl": "https://a.example/" } }),
        json!({ "msgtype": "actionCard", "actionCard": { "title": attack, "text": attack, "singleTitle": format!("\"><svg onload=alert(1)>"), "singleURL": "https://a.example/" } }),
        json!({ "msgtype": "feedCard", "feedCard": { "links": [{ "title": attack, "messageURL": "https://a.example/", "picURL": "https://a.example/p.png\" onerror=\"alert(1)" }] } }),
    ] {
        assert_eq!(errcode(&post(&robot.webhook, &body).await), 0, "{body}");
        let m = last_message(&bob, &g).await;
        let html = m["html"].as_str().unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=\"x\""), "{html}");
        assert!(!html.contains("<svg"), "{html}");
        assert!(!html.to_lowercase().contains("href=\"javascript"), "{html}");
        assert!(!html.contains("src=\"javascript"), "{html}");
        assert!(!has_event_handler(html), "{html}");
    }
    // Links and pictures that are not http(s) are refused outright with
    // DingTalk's "unsafe link" code, and nothing is posted.
    let before = last_message(&bob, &g).await["seq"].clone();
    for body in [
        json!({ "msgtype": "link", "link": { "title": "t", "text": "x", "messageUrl": "javascript:alert(1)" } }),
        json!({ "msgtype": "link", "link": { "title": "t", "text": "x", "messageUrl": "https://a.example/", "picUrl": "data:image/svg+xml,<svg onload=alert(1)>" } }),
        json!({ "msgtype": "actionCard", "actionCard": { "title": "t", "text": "x", "btns": [{ "title": "b", "actionURL": "JaVaScRiPt:alert(1)" }] } }),
        json!({ "msgtype": "feedCard", "feedCard": { "links": [{ "title": "t", "messageURL": "vbscript:x", "picURL": "https://a.example/p.png" }] } }),
        json!({ "msgtype": "actionCard", "actionCard": { "title": "t", "text": "x", "singleTitle": "b", "singleURL": "dingtalk://dingtalkclient/page/link?url=javascript%3Aalert(1)" } }),
    ] {
        assert_eq!(
            post(&robot.webhook, &body).await,
            json!({ "errcode": 430101, "errmsg": "含有不安全的外链" }),
            "{body}"
        );
    }
    assert_eq!(last_message(&bob, &g).await["seq"], before);
    t.stop().await;
}

#[tokio::test]
async fn signatures_are_checked_like_dingtalk() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Signed", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, json!({ "name": "Signed bot", "signing": true })).await;
    let secret = robot.secret.clone().unwrap();
    assert!(secret.starts_with("SEC") && secret.len() == 67, "{secret}");
    assert_eq!(
        robot.webhook.split("access_token=").nth(1).unwrap().len(),
        64,
        "DingTalk-shaped token"
    );
    // The token is stored as its SHA-256 only, the secret sealed.
    let token = robot.webhook.split("access_token=").nth(1).unwrap();
    let digest: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM robots WHERE token_hash = '{digest}'"
        ))
        .await,
        1
    );
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM robots WHERE token_hash = '{token}' OR secret_sealed LIKE '%{}%'",
            &secret[3..20]
        ))
        .await,
        0
    );

    assert_eq!(errcode(&signed(&t, &robot, &text("signed")).await), 0);
    let now = t.clock.now_ms();
    // No signature, or no timestamp: "sign not match".
    assert_eq!(
        post(&robot.webhook, &text("unsigned")).await,
        json!({ "errcode": 310000, "errmsg": "sign not match" })
    );
    assert_eq!(
        post(
            &format!("{}&sign={}", robot.webhook, sign(&secret, now)),
            &text("x")
        )
        .await["errmsg"],
        "sign not match"
    );
    // Signed with another secret, or for another moment.
    let forged = format!(
        "{}&timestamp={now}&sign={}",
        robot.webhook,
        sign("SECnot-the-secret", now)
    );
    assert_eq!(
        post(&forged, &text("x")).await,
        json!({ "errcode": 310000, "errmsg": "sign not match" })
    );
    let shifted = format!(
        "{}&timestamp={}&sign={}",
        robot.webhook,
        now + 1,
        sign(&secret, now)
    );
    assert_eq!(errcode(&post(&shifted, &text("x")).await), 310000);
    // A correct signature over a timestamp more than an hour away.
    for ts in [now - 3_600_000 - 5_000, now + 3_600_000 + 5_000] {
        let url = format!(
            "{}&timestamp={ts}&sign={}",
            robot.webhook,
            sign(&secret, ts)
        );
        assert_eq!(
            post(&url, &text("x")).await,
            json!({ "errcode": 310000, "errmsg": "invalid timestamp" })
        );
    }
    // A signed address keeps working within the hour, then expires.
    let url = format!(
        "{}&timestamp={now}&sign={}",
        robot.webhook,
        sign(&secret, now)
    );
    t.advance(50 * 60);
    assert_eq!(errcode(&post(&url, &text("still fine")).await), 0);
    t.advance(11 * 60);
    assert_eq!(
        post(&url, &text("too old")).await["errmsg"],
        "invalid timestamp"
    );
    // A new secret: the old one stops working at once.
    let (status, renewed) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/robots/{}/secret", robot.id),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{renewed}");
    let new_secret = renewed["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert!(renewed["webhook_url"].is_null(), "the address is unchanged");
    assert_eq!(
        errcode(&signed(&t, &robot, &text("old secret")).await),
        310000
    );
    let renewed_robot = Robot {
        secret: Some(new_secret),
        ..robot
    };
    assert_eq!(
        errcode(&signed(&t, &renewed_robot, &text("new secret")).await),
        0
    );
    let bodies: Vec<String> = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, vec!["signed", "still fine", "new secret"]);
    // Signing cannot be the last security setting to go.
    let (status, body) = alice
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/conversations/{g}/robots/{}/secret",
                renewed_robot.id
            ),
            json!({}),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "no_security"));
    t.stop().await;
}

#[tokio::test]
async fn keywords_must_appear_in_the_message() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Keywords", &[&bob_id]).await;
    let robot = add_robot(
        &alice,
        &g,
        json!({ "name": "Report bot", "keywords": "報表\nERP" }),
    )
    .await;
    let (_, robots) = alice
        .get_json(&format!("/api/v1/conversations/{g}/robots"))
        .await;
    assert_eq!(robots[0]["keywords"], json!(["報表", "ERP"]));
    assert_eq!(
        post(&robot.webhook, &text("昨日現金流")).await,
        json!({ "errcode": 310000, "errmsg": "keywords not in content" })
    );
    assert_eq!(
        errcode(&post(&robot.webhook, &text("昨日現金流報表")).await),
        0
    );
    // A keyword in a markdown title or a button title counts.
    let markdown =
        json!({ "msgtype": "markdown", "markdown": { "title": "ERP 通知", "text": "出貨完成" } });
    assert_eq!(errcode(&post(&robot.webhook, &markdown).await), 0);
    let card = json!({ "msgtype": "actionCard", "actionCard": { "title": "審批", "text": "請處理", "singleTitle": "打開報表", "singleURL": "https://a.example/" } });
    assert_eq!(errcode(&post(&robot.webhook, &card).await), 0);
    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await;
    assert_eq!(history.as_array().unwrap().len(), 3);
    // Too many keywords are refused.
    let many: Vec<String> = (0..11).map(|i| format!("k{i}")).collect();
    let (status, body) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/robots"),
            json!({ "name": "x", "keywords": many }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_keywords")
    );
    // A robot without any security setting is refused.
    let (status, body) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/robots"),
            json!({ "name": "naked" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "no_security"));
    t.stop().await;
}

#[tokio::test]
async fn ip_allow_list() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "IP", &[&bob_id]).await;
    let robot = add_robot(
        &alice,
        &g,
        json!({ "name": "Office bot", "ip_allowlist": "203.0.113.0/24\n198.51.100.7" }),
    )
    .await;
    assert_eq!(
        post(&robot.webhook, &text("from the test")).await,
        json!({ "errcode": 310000, "errmsg": "ip 127.0.0.1 not in whitelist" })
    );
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/robots/{}", robot.id),
            json!({ "name": "Office bot", "ip_allowlist": ["300.1.2.3"] }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_ip"));
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/robots/{}", robot.id),
            json!({ "name": "Office bot", "ip_allowlist": ["203.0.113.0/24", "127.0.0.0/8"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["ip_allowlist"],
        json!(["203.0.113.0/24", "127.0.0.0/8"])
    );
    assert_eq!(
        errcode(&post(&robot.webhook, &text("now allowed")).await),
        0
    );
    t.stop().await;
}

#[tokio::test]
async fn twenty_messages_a_minute_by_default() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Busy", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, local_only("Chatty")).await;
    for i in 0..20 {
        assert_eq!(
            errcode(&post(&robot.webhook, &text(&format!("#{i}"))).await),
            0,
            "message {i}"
        );
    }
    assert_eq!(
        post(&robot.webhook, &text("#20")).await,
        json!({ "errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute" })
    );
    // Another robot of the same group has its own budget.
    let other = add_robot(&alice, &g, local_only("Quiet")).await;
    assert_eq!(errcode(&post(&other.webhook, &text("mine")).await), 0);
    t.advance(61);
    assert_eq!(
        errcode(&post(&robot.webhook, &text("a minute later")).await),
        0
    );
    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages?limit=100"))
        .await;
    assert_eq!(
        history.as_array().unwrap().len(),
        22,
        "the refused message was not posted"
    );
    t.stop().await;
}

#[tokio::test]
async fn the_limit_is_configurable_and_holds_under_concurrency() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team_with(|c| c.bots.rate_limit_per_minute = 5).await;
    let g = group(&alice, "Limited", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, local_only("Burst")).await;
    let calls = (0..12).map(|i| {
        let url = robot.webhook.clone();
        async move { errcode(&post(&url, &text(&format!("burst {i}"))).await) }
    });
    let codes = futures::future::join_all(calls).await;
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 5, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == 130101).count(),
        7,
        "{codes:?}"
    );
    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await;
    assert_eq!(history.as_array().unwrap().len(), 5);
    t.stop().await;
}

#[tokio::test]
async fn stopped_renewed_and_removed_robots() {
    let Team {
        t,
        alice: (alice, _),
        bob: (bob, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Lifecycle", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, local_only("Cycle")).await;
    // Wrong requests, DingTalk's way.
    let base = robot.webhook.split('?').next().unwrap().to_string();
    assert_eq!(
        post(&base, &text("x")).await,
        json!({ "errcode": 40035, "errmsg": "缺少参数 access_token" })
    );
    assert_eq!(
        post(&format!("{base}?access_token=0000"), &text("x")).await,
        json!({ "errcode": 300005, "errmsg": "token is not exist" })
    );
    let get: Value = reqwest::get(&robot.webhook)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(get, json!({ "errcode": 43002, "errmsg": "需要POST请求" }));
    let res = reqwest::Client::new()
        .post(&robot.webhook)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "errcode": 40035, "errmsg": "缺少参数 json" })
    );
    assert_eq!(
        errcode(&post(&robot.webhook, &json!({ "msgtype": "text", "text": {} })).await),
        40035
    );
    assert_eq!(
        post(&robot.webhook, &json!({ "msgtype": "voice" })).await,
        json!({ "errcode": 400105, "errmsg": "不支持的消息类型" })
    );
    // Present but unusable: too long, too many buttons.
    assert_eq!(
        post(&robot.webhook, &text(&"長".repeat(8001))).await,
        json!({ "errcode": 40035, "errmsg": "不合法的参数 content" })
    );
    let buttons: Vec<Value> = (0..11)
        .map(|i| json!({ "title": format!("b{i}"), "actionURL": "https://a.example/" }))
        .collect();
    let crowded = json!({ "msgtype": "actionCard", "actionCard": { "title": "t", "text": "x", "btns": buttons } });
    assert_eq!(
        post(&robot.webhook, &crowded).await,
        json!({ "errcode": 40035, "errmsg": "不合法的参数 card" })
    );

    // Stopped, then started again.
    let path = format!("/api/v1/conversations/{g}/robots/{}", robot.id);
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("{path}/enabled"),
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["enabled"].clone()),
        (200, json!(false))
    );
    assert_eq!(
        post(&robot.webhook, &text("while stopped")).await,
        json!({ "errcode": 400102, "errmsg": "机器人已停用" })
    );
    alice
        .call(
            Method::PUT,
            &format!("{path}/enabled"),
            json!({ "enabled": "true" }),
        )
        .await;
    assert_eq!(errcode(&post(&robot.webhook, &text("started")).await), 0);

    // A new address: the old token is refused from now on.
    let (status, renewed) = alice.post_json(&format!("{path}/token"), json!({})).await;
    assert_eq!(status, 200, "{renewed}");
    let new_url = renewed["webhook_url"].as_str().unwrap().to_string();
    assert_ne!(new_url, robot.webhook);
    assert_eq!(
        errcode(&post(&robot.webhook, &text("old address")).await),
        300005
    );
    assert_eq!(errcode(&post(&new_url, &text("new address")).await), 0);

    // Removed: the address dies, the messages stay under the robot's name.
    let (status, _) = alice.call(Method::DELETE, &path, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        errcode(&post(&new_url, &text("after removal")).await),
        300005
    );
    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await;
    let bodies: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec!["started", "new address"]);
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["sender_name"] == "Cycle"));
    assert_eq!(alice.get_json(&path).await.0, 404);

    // A dissolved group's robot is answered with DingTalk's code.
    let robot = add_robot(&alice, &g, local_only("Late")).await;
    alice
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{g}"),
            json!({}),
        )
        .await;
    assert_eq!(
        post(&robot.webhook, &text("anyone?")).await,
        json!({ "errcode": 400013, "errmsg": "群已被解散" })
    );
    t.stop().await;
}

/// A member who registered with a Hong Kong mobile number.
async fn register_phone(t: &TestServer, invitation: &str, number: &str, name: &str) -> Client {
    let c = t.client();
    let (status, body) = c
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "sms", "destination": number }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let e164 = format!("+852{}", number.replace(' ', ""));
    let code = t.last_code(&e164).await;
    let (status, body) = c
        .post_json(
            "/api/v1/register",
            json!({ "channel": "sms", "destination": e164, "code": code, "display_name": name, "password": PASSWORD, "invitation_code": invitation }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    c
}

#[tokio::test]
async fn mentions_notify_members_through_do_not_disturb() {
    let Team {
        t,
        owner,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
    } = team().await;
    let code = t.invite(&owner, "member").await;
    let carol = register_phone(&t, &code, "6123 4567", "Carol").await;
    let carol_id = user_id(&carol).await;
    let g = group(&alice, "Alerts", &[&bob_id, &carol_id]).await;
    let robot = add_robot(&alice, &g, local_only("Monitor")).await;
    let mut carol_socket = carol.socket().await;
    carol_socket.expect("ready", 2.0).await;
    let mut bob_socket = bob.socket().await;
    bob_socket.expect("ready", 2.0).await;

    // By phone number, written the local way DingTalk clients send it.
    let body = json!({ "msgtype": "text", "text": { "content": "CPU 過高 @61234567 請跟進" }, "at": { "atMobiles": ["61234567"] } });
    assert_eq!(errcode(&post(&robot.webhook, &body).await), 0);
    let message = carol_socket.expect("message", 2.0).await;
    assert_eq!(message["message"]["mentions"], json!([carol_id]));
    assert_eq!(
        message["message"]["body"], "CPU 過高 @Carol 請跟進",
        "the number shows as the name"
    );
    let notify = carol_socket.expect("notify", 1.0).await;
    assert_eq!(notify["message_id"], message["message"]["id"]);
    assert_eq!(notify["mention"], true);
    // Bob was not mentioned: an ordinary notification.
    let bob_notify = bob_socket.expect("notify", 2.0).await;
    assert_eq!(bob_notify["mention"], false);

    // By user id, and +852-style numbers; strangers and non-members are ignored.
    let owner_id = user_id(&owner).await;
    let body = json!({ "msgtype": "markdown", "markdown": { "title": "t", "text": "請確認" },
        "at": { "atUserIds": [alice_id, owner_id], "atMobiles": ["+852-6123-4567", "+85299999999"] } });
    assert_eq!(errcode(&post(&robot.webhook, &body).await), 0);
    let m = last_message(&alice, &g).await;
    let mut mentioned: Vec<String> = m["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    mentioned.sort();
    let mut expected = vec![alice_id.clone(), carol_id.clone()];
    expected.sort();
    assert_eq!(mentioned, expected);

    // Quiet hours all day for Carol: @all arrives silently, a personal
    // mention still gets through.
    let (status, _) = carol
        .call(Method::PUT, "/api/v1/me/notifications", json!({ "enabled": true, "time_zone": "Asia/Hong_Kong",
            "periods": [{ "days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00" }], "allow_mentions": true, "allow_from": [] }))
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    carol_socket.drain(0.2).await;
    let all =
        json!({ "msgtype": "text", "text": { "content": "全體注意" }, "at": { "isAtAll": true } });
    assert_eq!(errcode(&post(&robot.webhook, &all).await), 0);
    let events = carol_socket.drain(0.5).await;
    let message = events
        .iter()
        .find(|e| e["type"] == "message")
        .expect("the message arrives");
    assert_eq!(message["message"]["mention_all"], true);
    assert!(
        !events.iter().any(|e| e["type"] == "notify"),
        "@all is not personal: {events:?}"
    );
    let (_, centre) = carol.get_json("/api/v1/me/notification-centre").await;
    assert!(
        centre.to_string().contains("全體注意"),
        "listed in the notification centre: {centre}"
    );
    let personal = json!({ "msgtype": "text", "text": { "content": "@61234567 緊急" }, "at": { "atMobiles": ["61234567"] } });
    assert_eq!(errcode(&post(&robot.webhook, &personal).await), 0);
    carol_socket.expect("message", 2.0).await;
    assert_eq!(carol_socket.expect("notify", 1.0).await["mention"], true);
    t.stop().await;
}

#[tokio::test]
async fn the_webhook_needs_no_session_and_no_csrf_token() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Machines", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, local_only("Plain")).await;
    // A logged-in browser without the CSRF header is still refused elsewhere…
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/conversations/{g}/messages", t.base))
        .json(&json!({ "body": "x" }))
        .send()
        .await
        .unwrap();
    assert!(
        res.status() == 401 || res.status() == 403,
        "{}",
        res.status()
    );
    // …while the webhook takes a bare request, with any content type.
    let res = reqwest::Client::new()
        .post(&robot.webhook)
        .header("content-type", "text/plain")
        .body(text("plain content type").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["errcode"], 0);
    t.stop().await;
}

#[tokio::test]
async fn a_burst_of_calls_is_stored_in_order_and_reads_back_as_announced() {
    // Calls arriving together are written together (the webhook's group
    // commit): every one is numbered once, logged with its message, and
    // what the socket got is what history reads back.
    let Team {
        t,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
        ..
    } = team_with(|c| c.bots.rate_limit_per_minute = 1000).await;
    let g = group(&alice, "Burst", &[&bob_id]).await;
    let robot = add_robot(
        &alice,
        &g,
        json!({ "name": "Feed", "avatar_url": "https://example.com/bot.png", "ip_allowlist": ["127.0.0.1"] }),
    )
    .await;
    let mut socket = bob.socket().await;
    socket.expect("ready", 2.0).await;
    const CALLS: usize = 60;
    let bodies: Vec<Value> = (0..CALLS)
        .map(|i| match i % 4 {
            0 => text(&format!("burst {i}")),
            1 => json!({ "msgtype": "markdown", "markdown": { "title": "t", "text": format!("**burst {i}**") },
                "at": { "atUserIds": [alice_id] } }),
            2 => json!({ "msgtype": "actionCard", "actionCard": { "title": format!("burst {i}"), "text": "審批",
                "singleTitle": "查看", "singleURL": "https://example.com/a" } }),
            _ => json!({ "msgtype": "text", "text": { "content": format!("burst {i} @all") }, "at": { "isAtAll": true } }),
        })
        .collect();
    let calls = bodies.iter().map(|body| {
        let url = robot.webhook.clone();
        async move { errcode(&post(&url, body).await) }
    });
    let codes = futures::future::join_all(calls).await;
    assert!(codes.iter().all(|c| *c == 0), "{codes:?}");

    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages?limit=200"))
        .await;
    let history: Vec<Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["robot_id"] == robot.id.as_str())
        .cloned()
        .collect();
    assert_eq!(history.len(), CALLS, "one message per call");
    let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "numbered without gaps or repeats: {seqs:?}"
    );
    let mut bursts: Vec<usize> = history
        .iter()
        .map(|m| {
            let body = m["body"].as_str().unwrap();
            let at = body.find("burst ").expect("a burst message");
            body[at + 6..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    bursts.sort();
    assert_eq!(bursts, (0..CALLS).collect::<Vec<_>>(), "each call once");

    // The socket got them in sequence order, each exactly as stored.
    let mut live = Vec::new();
    while live.len() < CALLS {
        let event = socket.expect("message", 3.0).await;
        live.push(event["message"].clone());
    }
    assert_eq!(live, history, "announced as stored");
    let mentioning = history.iter().find(|m| m["kind"] == "markdown").unwrap();
    assert_eq!(mentioning["mentions"], json!([alice_id]));
    assert_eq!(mentioning["sender_name"], "Feed");
    assert_eq!(mentioning["sender_avatar"], "https://example.com/bot.png");
    assert!(mentioning["html"].as_str().unwrap().contains("<strong>"));
    assert!(history
        .iter()
        .any(|m| m["kind"] == "card" && m["card"].is_object()));

    // Every call is in the log with the message it posted.
    let (_, log) = alice
        .get_json(&format!("/api/v1/conversations/{g}/robot-calls?limit=200"))
        .await;
    let mut logged: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["errcode"] == 0)
        .map(|c| c["message_id"].as_str().unwrap().to_string())
        .collect();
    logged.sort();
    let mut ids: Vec<String> = history
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(logged, ids);
    t.stop().await;
}

#[tokio::test]
async fn a_call_into_a_dissolved_group_is_refused_and_logged() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Short-lived", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, local_only("Orphan")).await;
    assert_eq!(errcode(&post(&robot.webhook, &text("before")).await), 0);
    let (status, body) = alice
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{g}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = post(&robot.webhook, &text("after")).await;
    assert_ne!(errcode(&answer), 0, "{answer}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE body = 'after'")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM robot_calls WHERE errcode <> 0")
            .await,
        1,
        "the refusal is logged"
    );
    t.stop().await;
}
