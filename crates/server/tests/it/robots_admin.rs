//! Robot management as group admins and others meet it: who may manage a
//! group's robots, a robot kept to its own group, the call log with its
//! filters, retention and the audit trail, the chat page's picture policy,
//! and the OpenAPI description.

use reqwest::Method;
use serde_json::json;

use crate::chat::{group, team, Team};
use crate::kit::{error_code, TestServer};
use crate::robots::{add_robot, errcode, local_only, post, text};

#[tokio::test]
async fn only_group_admins_manage_robots_and_a_robot_stays_in_its_group() {
    let Team {
        t,
        owner,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
    } = team().await;
    let a = group(&alice, "Group A", &[&bob_id]).await;
    let b = group(&bob, "Group B", &[&alice_id]).await;
    // Bob is a plain member of A: he cannot see or touch its robots.
    let (status, body) = bob
        .post_json(
            &format!("/api/v1/conversations/{a}/robots"),
            local_only("mine"),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "admin_only"));
    let robot = add_robot(&alice, &a, local_only("A's robot")).await;
    for path in [
        format!("/api/v1/conversations/{a}/robots"),
        format!("/api/v1/conversations/{a}/robots/{}", robot.id),
        format!("/api/v1/conversations/{a}/robot-calls"),
        format!("/chat/{a}/robots"),
        format!("/chat/{a}/robots/log"),
    ] {
        assert_eq!(bob.get(&path).await.status(), 403, "{path}");
    }
    let (status, _) = bob
        .post_json(
            &format!("/api/v1/conversations/{a}/robots/{}/token", robot.id),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = bob
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{a}/robots/{}", robot.id),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    // Someone outside the group does not even learn it exists.
    assert_eq!(
        owner
            .get(&format!("/api/v1/conversations/{a}/robots"))
            .await
            .status(),
        404
    );
    // The panel offers the robots section to admins only.
    let panel = alice
        .get(&format!("/chat/{a}/panel"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        panel.contains(&format!("data-robots-src=\"/chat/{a}/robots\"")),
        "{panel}"
    );
    let panel = bob
        .get(&format!("/chat/{a}/panel"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!panel.contains("data-robots-src"), "{panel}");

    // A's robot posts into A only, whatever it tries.
    let mut body = text("for group B?");
    body["conversation_id"] = json!(b);
    body["chatId"] = json!(b);
    assert_eq!(
        errcode(&post(&format!("{}&conversation_id={b}", robot.webhook), &body).await),
        0
    );
    let (_, in_a) = alice
        .get_json(&format!("/api/v1/conversations/{a}/messages"))
        .await;
    let (_, in_b) = bob
        .get_json(&format!("/api/v1/conversations/{b}/messages"))
        .await;
    assert_eq!(in_a.as_array().unwrap().len(), 1);
    assert!(in_b.as_array().unwrap().is_empty());
    // Bob owns B: A's robot is not reachable through B.
    let (status, _) = bob
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{b}/robots/{}/enabled", robot.id),
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(status, 404, "B's admin cannot manage A's robot through B");
    let (status, _) = bob
        .post_json(
            &format!("/api/v1/conversations/{b}/robots/{}/token", robot.id),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, b_robots) = bob
        .get_json(&format!("/api/v1/conversations/{b}/robots"))
        .await;
    assert_eq!(b_robots, json!([]));
    let (_, b_calls) = bob
        .get_json(&format!("/api/v1/conversations/{b}/robot-calls"))
        .await;
    assert_eq!(b_calls, json!([]));
    t.stop().await;
}

#[tokio::test]
async fn every_call_is_logged_filtered_and_pruned() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (_, bob_id),
    } = team().await;
    let g = group(&alice, "Logged", &[&bob_id]).await;
    let robot = add_robot(&alice, &g, json!({ "name": "Logger", "keywords": ["ERP"] })).await;
    let other = add_robot(&alice, &g, local_only("Other")).await;
    assert_eq!(errcode(&post(&robot.webhook, &text("ERP ok")).await), 0);
    assert_eq!(
        errcode(&post(&robot.webhook, &text("no keyword")).await),
        310000
    );
    assert_eq!(errcode(&post(&robot.webhook, &json!({ "msgtype": "link", "link": { "title": "ERP", "text": "x", "messageUrl": "https://a.example/" } })).await), 0);
    assert_eq!(errcode(&post(&other.webhook, &text("other")).await), 0);
    let base = robot.webhook.split('?').next().unwrap();
    assert_eq!(
        errcode(&post(&format!("{base}?access_token=bad"), &text("x")).await),
        300005
    );

    let calls = format!("/api/v1/conversations/{g}/robot-calls");
    let (status, all) = alice.get_json(&calls).await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().unwrap().clone();
    assert_eq!(
        all.len(),
        4,
        "the unknown token belongs to no group: {all:?}"
    );
    let newest = &all[0];
    assert_eq!(newest["robot_name"], "Other");
    assert_eq!(newest["ip"], "127.0.0.1");
    assert_eq!(newest["msgtype"], "text");
    assert_eq!(newest["errcode"], 0);
    assert!(newest["message_id"].is_string());
    let (_, failed) = alice.get_json(&format!("{calls}?outcome=failed")).await;
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["errcode"], 310000);
    assert_eq!(failed[0]["errmsg"], "keywords not in content");
    let (_, mine) = alice
        .get_json(&format!("{calls}?robot_id={}&outcome=ok", robot.id))
        .await;
    let types: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["msgtype"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["link", "text"]);
    let (_, by_code) = alice.get_json(&format!("{calls}?errcode=310000")).await;
    assert_eq!(by_code.as_array().unwrap().len(), 1);
    let (_, paged) = alice.get_json(&format!("{calls}?limit=2")).await;
    let (_, older) = alice
        .get_json(&format!(
            "{calls}?limit=2&before={}",
            paged[1]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(older[0]["id"], all[2]["id"]);

    // The page an admin reads, with its filters.
    let page = alice
        .get(&format!("/chat/{g}/robots/log?outcome=failed"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(
        html.matches("data-testid=\"robot-call\"").count(),
        1,
        "{html}"
    );
    assert!(html.contains("keywords not in content"));
    assert_eq!(
        alice
            .get(&format!("/chat/{g}/robots/log?from=yesterday"))
            .await
            .status(),
        400
    );
    // The robots section shows both robots.
    let section = alice
        .get(&format!("/chat/{g}/robots"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(section.matches("data-testid=\"robot\"").count(), 2);
    // Robot management is in the org's audit log.
    let (_, audit) = owner.get_json("/api/v1/org/audit?kind=robot.").await;
    assert_eq!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "robot.created")
            .count(),
        2,
        "{audit}"
    );

    // Kept for the retention period (90 days by default), then pruned.
    t.advance(89 * 86_400);
    assert_eq!(tram_bots::calls::prune(t.state()).await.unwrap(), 0);
    t.advance(2 * 86_400);
    assert_eq!(tram_bots::calls::prune(t.state()).await.unwrap(), 5);
    assert_eq!(t.count("SELECT COUNT(*) FROM robot_calls").await, 0);
    t.stop().await;
}

#[tokio::test]
async fn the_chat_page_may_show_robot_pictures_but_runs_no_foreign_script() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = team().await;
    let g = group(&alice, "Pictures", &[&bob_id]).await;
    let res = alice.get(&format!("/chat/{g}")).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("img-src 'self' data: https: http:"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("/static/robots.js"));
    assert_eq!(alice.get("/static/robots.js").await.status(), 200);
    // Other pages keep the strict policy.
    let csp = alice.get("/settings/notifications").await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    t.stop().await;
}

#[tokio::test]
async fn the_robot_api_is_documented() {
    let t = TestServer::start().await;
    let (status, doc) = t.client().get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["paths"]["/robot/send"]["post"].is_object(),
        "the webhook"
    );
    let params: Vec<&str> = doc["paths"]["/robot/send"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, vec!["access_token", "timestamp", "sign"]);
    for (path, method) in [
        ("/api/v1/conversations/{id}/robots", "post"),
        ("/api/v1/conversations/{id}/robots", "get"),
        ("/api/v1/conversations/{id}/robots/{robot_id}", "put"),
        ("/api/v1/conversations/{id}/robots/{robot_id}", "delete"),
        (
            "/api/v1/conversations/{id}/robots/{robot_id}/enabled",
            "put",
        ),
        ("/api/v1/conversations/{id}/robots/{robot_id}/token", "post"),
        (
            "/api/v1/conversations/{id}/robots/{robot_id}/secret",
            "post",
        ),
        (
            "/api/v1/conversations/{id}/robots/{robot_id}/secret",
            "delete",
        ),
        ("/api/v1/conversations/{id}/robot-calls", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    for schema in [
        "RobotWebhook",
        "NewRobot",
        "IssuedRobot",
        "RobotCall",
        "DingTalkAnswer",
        "Card",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} is not documented"
        );
    }
    t.stop().await;
}
