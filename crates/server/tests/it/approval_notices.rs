//! Approval notices in chat: the approver of each step gets a work-notice
//! card (title, submitter, amount, Approve / Reject / Open) live on their
//! socket; the approver who decided and the submitter hear the outcome;
//! reminders come as notices; each notice is posted once; members cannot
//! write into their notice conversation; the approver decides from the
//! card (what its buttons post, with a comment), and no one else can.

use reqwest::Method;
use serde_json::{json, Value};

use crate::approvals::{
    create_template, decide, expense_design, office, run_jobs, submit, task_of,
};
use crate::kit::{error_code, Client, TestServer};

/// The member's notice conversation and its messages, once it has at
/// least `n` (the server's runner posts them; this also runs due jobs).
async fn notices(t: &TestServer, c: &Client, n: usize) -> (String, Vec<Value>) {
    for _ in 0..100 {
        run_jobs(t).await;
        let (status, list) = c.get_json("/api/v1/conversations").await;
        assert_eq!(status, 200, "{list}");
        if let Some(conv) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "notice")
        {
            let id = conv["id"].as_str().unwrap().to_string();
            let (status, messages) = c
                .get_json(&format!("/api/v1/conversations/{id}/messages"))
                .await;
            assert_eq!(status, 200, "{messages}");
            let messages = messages.as_array().unwrap().clone();
            if messages.len() >= n {
                return (id, messages);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} notices arrived");
}

fn card_text(message: &Value) -> String {
    message["card"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn each_approver_gets_a_card_and_the_submitter_hears_the_outcome_once() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let mut bob_socket = o.bob.0.socket().await;
    let (status, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "客戶晚宴", "amount": "6,200" }),
    )
    .await;
    assert_eq!(status, 200, "{request}");
    let id = request["id"].as_str().unwrap().to_string();
    let bob_task = task_of(&request, &o.bob.1);

    // Bob's card: live on his socket, and in his chat list as a notice.
    let live = bob_socket.expect("message", 5.0).await;
    assert_eq!(live["message"]["kind"], "card");
    let (conv, bob_notices) = notices(&o.t, &o.bob.0, 1).await;
    assert_eq!(bob_notices.len(), 1);
    let card = &bob_notices[0];
    assert_eq!(live["message"]["id"], card["id"]);
    assert_eq!(card["sender_name"], "審批");
    assert_eq!(card["card"]["title"], "報銷");
    let text = card_text(card);
    assert!(text.contains("Alice"), "{text}");
    assert!(text.contains("金額: HK$6,200.00"), "{text}");
    let buttons: Vec<(String, String, Value)> = card["card"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["title"].as_str().unwrap().into(),
                b["url"].as_str().unwrap().into(),
                b["action"].clone(),
            )
        })
        .collect();
    let decision_api = format!("/api/v1/approvals/tasks/{bob_task}/decision");
    assert_eq!(
        buttons,
        vec![
            (
                "批准".into(),
                format!("/approvals/{id}?task={bob_task}&decision=approve"),
                json!({ "kind": "act", "api": decision_api, "values": { "decision": "approve" } })
            ),
            (
                "拒絕".into(),
                format!("/approvals/{id}?task={bob_task}&decision=reject"),
                json!({ "kind": "act", "api": decision_api, "values": { "decision": "reject" } })
            ),
            (
                "查看".into(),
                format!("/approvals/{id}"),
                json!({ "kind": "page" })
            ),
        ]
    );
    // It notifies (no quiet hours set).
    let notify = bob_socket.expect("notify", 2.0).await;
    assert_eq!(notify["message_id"], card["id"]);
    let (_, list) = o.bob.0.get_json("/api/v1/conversations").await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conv.as_str())
        .unwrap();
    assert_eq!(listed["title"], "工作通知");
    assert_eq!(listed["unread"], 1);

    // Notices cannot be answered.
    let res = o
        .bob
        .0
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({ "body": "收到" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "notice_read_only");
    // Nor seen by anyone else.
    let (status, _) = o
        .alice
        .0
        .get_json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    assert_eq!(status, 404);

    // Bob approves: he gets a note of it, the owner (second level) a card.
    let (status, after) = decide(&o.bob.0, &bob_task, "approve").await;
    assert_eq!(status, 200, "{after}");
    let (_, bob_notices) = notices(&o.t, &o.bob.0, 2).await;
    assert!(
        card_text(&bob_notices[1]).contains("你已批准「報銷」"),
        "{}",
        bob_notices[1]
    );
    let (_, owner_notices) = notices(&o.t, &o.owner.0, 1).await;
    assert!(card_text(&owner_notices[0]).contains("等你審批"));
    let (_, after) = decide(&o.owner.0, &task_of(&after, &o.owner.1), "approve").await;
    let (_, fiona_notices) = notices(&o.t, &o.fiona.0, 1).await;
    assert_eq!(fiona_notices.len(), 1);
    let (status, done) = decide(&o.fiona.0, &task_of(&after, &o.fiona.1), "approve").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "approved");

    let (_, alice_notices) = notices(&o.t, &o.alice.0, 1).await;
    assert!(card_text(&alice_notices[0]).contains("你的申請「報銷」已批准"));
    // Every job ran (more runs change nothing): one notice each, in all.
    run_jobs(&o.t).await;
    run_jobs(&o.t).await;
    let posted =
        o.t.count("SELECT COUNT(*) FROM messages WHERE robot_id = 'notice:approvals'")
            .await;
    // Bob: card + note; owner: card + note; Fiona: card + note; Alice: outcome.
    assert_eq!(posted, 7);
    o.t.stop().await;
}

#[tokio::test]
async fn a_rejection_and_a_reminder_come_as_notices() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "機票", "amount": 800 }),
    )
    .await;
    let bob_task = task_of(&request, &o.bob.1);
    notices(&o.t, &o.bob.0, 1).await;

    // 22 h 30 min later: a reminder notice before the deadline.
    o.t.advance(22 * 3600 + 1800);
    let (_, bob_notices) = notices(&o.t, &o.bob.0, 2).await;
    assert!(
        card_text(&bob_notices[1]).starts_with("提醒"),
        "{}",
        bob_notices[1]
    );
    assert_eq!(
        bob_notices[1]["card"]["buttons"].as_array().unwrap().len(),
        3
    );

    let (status, _) = decide(&o.bob.0, &bob_task, "reject").await;
    assert_eq!(status, 200);
    let (_, alice_notices) = notices(&o.t, &o.alice.0, 1).await;
    assert!(
        card_text(&alice_notices[0]).contains("已被拒絕"),
        "{}",
        alice_notices[0]
    );
    let (_, bob_notices) = notices(&o.t, &o.bob.0, 3).await;
    assert!(card_text(&bob_notices[2]).contains("你已拒絕"));
    o.t.stop().await;
}

/// A card's button as the chat page uses it: its API path and the JSON it
/// posts with the dialog's comment.
fn act_button(card: &Value, index: usize, comment: &str) -> (String, Value) {
    let action = &card["card"]["buttons"][index]["action"];
    assert_eq!(action["kind"], "act", "{card}");
    let mut body = action["values"].clone();
    body["comment"] = json!(comment);
    (action["api"].as_str().unwrap().to_string(), body)
}

#[tokio::test]
async fn the_approver_decides_from_the_card_with_a_comment_and_no_one_else_can() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "文具", "amount": 300 }),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_string();
    let bob_task = task_of(&request, &o.bob.1);
    let (conv, bob_notices) = notices(&o.t, &o.bob.0, 1).await;
    let card = &bob_notices[0];
    // The chat page's HTML carries what the dialog posts.
    assert!(
        card["html"].as_str().unwrap().contains(&format!(
            "data-act-api=\"/api/v1/approvals/tasks/{bob_task}/decision\""
        )),
        "{card}"
    );
    let (api, approve) = act_button(card, 0, "同意，請財務跟進");
    let (_, reject) = act_button(card, 1, "");

    // Someone who is not the approver cannot use the button's call: the
    // submitter, another approver of the flow, a member of another org.
    for c in [&o.alice.0, &o.fiona.0] {
        let res = c.send(Method::POST, &api, approve.clone()).await;
        assert_eq!(res.status(), 403);
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "not_your_task");
    }
    let stranger =
        o.t.register_email("eve@example.com", "Eve", Some("別家公司"), None)
            .await;
    let res = stranger.send(Method::POST, &api, approve.clone()).await;
    assert_eq!(res.status(), 404);
    // Nor read Bob's card.
    let (status, _) = o
        .alice
        .0
        .get_json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    assert_eq!(status, 404);

    // Bob's click, twice (a double click): one decision, with the comment.
    let (status, after) = o.bob.0.post_json(&api, approve.clone()).await;
    assert_eq!(status, 200, "{after}");
    let (status, again) = o.bob.0.post_json(&api, approve.clone()).await;
    assert_eq!(status, 200, "{again}");
    let (_, instance) = o
        .alice
        .0
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    let approvals: Vec<&Value> = instance["trail"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "approved")
        .collect();
    assert_eq!(approvals.len(), 1, "{instance}");
    assert_eq!(approvals[0]["actor_id"], o.bob.1.as_str());
    assert_eq!(approvals[0]["comment"], "同意，請財務跟進");
    // The card's other button now says it was already decided.
    let res = o.bob.0.send(Method::POST, &api, reject).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "already_decided");
    assert_eq!(body["error"]["message"], "此事項已有決定。");
    // And the outcome comes back to Bob as a note in the same chat.
    let (_, bob_notices) = notices(&o.t, &o.bob.0, 2).await;
    assert!(card_text(&bob_notices[1]).contains("你已批准「報銷」"));

    // Finance opens the page the card's button opens without script: the
    // decision is chosen, not taken.
    let fiona_task = task_of(&after, &o.fiona.1);
    let page = o
        .fiona
        .0
        .get(&format!(
            "/approvals/{id}?task={fiona_task}&decision=reject"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-preselected=\"reject\""), "{page}");
    assert!(page.contains("data-testid=\"preselected\""), "{page}");
    assert!(!page.contains("data-testid=\"task-gone\""), "{page}");
    let (_, instance) = o
        .fiona
        .0
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    assert_eq!(instance["status"], "pending");
    assert_eq!(task_of(&instance, &o.fiona.1), fiona_task);
    // Bob's old link: his task no longer waits for him.
    let page = o
        .bob
        .0
        .get(&format!("/approvals/{id}?task={bob_task}&decision=approve"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"task-gone\""), "{page}");
    assert!(!page.contains("data-preselected"), "{page}");
    o.t.stop().await;
}

#[tokio::test]
async fn a_task_card_loses_its_buttons_and_says_the_outcome_once_decided() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "文具", "amount": 300 }),
    )
    .await;
    let (_, bob_notices) = notices(&o.t, &o.bob.0, 1).await;
    let card_id = bob_notices[0]["id"].as_str().unwrap().to_string();
    let kinds = |m: &Value| -> Vec<String> {
        m["card"]["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["action"]["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&bob_notices[0]), ["act", "act", "page"]);
    let mut socket = o.bob.0.socket().await;
    socket.expect("ready", 2.0).await;

    let bob_task = task_of(&request, &o.bob.1);
    let (status, after) = decide(&o.bob.0, &bob_task, "approve").await;
    assert_eq!(status, 200, "{after}");
    // The card Bob has open changes in place: no decision buttons, the
    // outcome in his language; the page button stays.
    let updated = loop {
        run_jobs(&o.t).await;
        let event = socket.expect("message_updated", 3.0).await;
        if event["message"]["id"] == card_id.as_str() {
            break event["message"].clone();
        }
    };
    assert_eq!(kinds(&updated), ["page"], "{updated}");
    assert!(card_text(&updated).contains("已批准"), "{updated}");
    assert!(!updated["html"].as_str().unwrap().contains("data-act-api"));
    // Read back later it stays closed, and nothing was posted for it.
    let (_, again) = notices(&o.t, &o.bob.0, 1).await;
    let card = again.iter().find(|m| m["id"] == card_id.as_str()).unwrap();
    assert_eq!(kinds(card), ["page"]);
    assert_eq!(card["seq"], bob_notices[0]["seq"]);

    // Finance's card still waits for her; her rejection closes it as such.
    let (_, fiona_notices) = notices(&o.t, &o.fiona.0, 1).await;
    assert_eq!(kinds(&fiona_notices[0]), ["act", "act", "page"]);
    let fiona_task = task_of(&after, &o.fiona.1);
    let (status, body) = decide(&o.fiona.0, &fiona_task, "reject").await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..50 {
        run_jobs(&o.t).await;
        let (_, fiona_notices) = notices(&o.t, &o.fiona.0, 1).await;
        let card = &fiona_notices[0];
        if kinds(card) == ["page"] {
            assert!(card_text(card).contains("已拒絕"), "{card}");
            o.t.stop().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("Fiona's card was not closed");
}
