//! Approvals over HTTP: an expense template routed manager → (over
//! HK$5,000) second-level manager → finance → archive; bad values refused
//! per field with nothing created; or-sign approvers racing; countersign
//! approvers deciding at once; the same decision twice; who may see and
//! act; template versions kept by requests; withdrawing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::{team_with, user_id, Team};
use crate::kit::{error_code, Client, TestServer};

/// Alice (staff) reports to Bob, Bob to the owner; Fiona is finance.
pub(crate) struct Office {
    pub(crate) t: TestServer,
    pub(crate) owner: (Client, String),
    pub(crate) alice: (Client, String),
    pub(crate) bob: (Client, String),
    pub(crate) fiona: (Client, String),
}

pub(crate) async fn office() -> Office {
    office_with(|_| {}).await
}

/// The office on a server configured by `adjust`.
pub(crate) async fn office_with(adjust: impl FnOnce(&mut tram_platform::config::Config)) -> Office {
    let Team {
        t,
        owner,
        alice,
        bob,
    } = team_with(adjust).await;
    let code = t.invite(&owner, "member").await;
    let fiona = t
        .register_email("fiona@example.com", "Fiona", None, Some(&code))
        .await;
    let fiona_id = user_id(&fiona).await;
    let owner_id = user_id(&owner).await;
    for (who, manager) in [(&alice.1, &bob.1), (&bob.1, &owner_id)] {
        let res = owner
            .send(
                Method::PUT,
                &format!("/api/v1/org/members/{who}/manager"),
                json!({ "manager_user_id": manager }),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    Office {
        t,
        owner: (owner, owner_id),
        alice,
        bob,
        fiona: (fiona, fiona_id),
    }
}

pub(crate) fn expense_design(finance: &str) -> Value {
    json!({
        "name": "報銷",
        "category": "expense",
        "fields": [
            { "key": "reason", "label": "事由", "type": "short_text", "required": true },
            { "key": "amount", "label": "金額", "type": "money", "required": true },
            { "key": "nights", "label": "晚數", "type": "number" },
            { "key": "trip", "label": "行程", "type": "date_range" },
            { "key": "lines", "label": "明細", "type": "table", "columns": [
                { "key": "item", "label": "項目", "type": "short_text", "required": true },
                { "key": "cost", "label": "金額", "type": "money", "required": true }
            ] }
        ],
        "flow": { "nodes": [
            { "type": "approver", "id": "manager", "name": "直屬主管", "approvers": [{ "kind": "manager" }] },
            { "type": "branch", "id": "amount", "branches": [
                { "name": "超過 HK$5,000", "when": { "kind": "field", "field": "amount", "op": "gt", "value": 5000 },
                  "nodes": [ { "type": "approver", "id": "second", "name": "二級主管", "approvers": [{ "kind": "manager", "level": 2 }] } ] }
            ] },
            { "type": "approver", "id": "finance", "name": "財務", "approvers": [{ "kind": "person", "user_id": finance }] }
        ] }
    })
}

pub(crate) async fn create_template(admin: &Client, design: Value) -> String {
    let (status, body) = admin.post_json("/api/v1/approvals/templates", design).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

pub(crate) async fn submit(
    c: &Client,
    template: &str,
    values: Value,
) -> (reqwest::StatusCode, Value) {
    c.post_json(
        &format!("/api/v1/approvals/templates/{template}/submit"),
        json!({ "values": values }),
    )
    .await
}

/// The pending task of `user` on the instance.
pub(crate) fn task_of(instance: &Value, user: &str) -> String {
    instance["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["assignee_id"] == user && t["status"] == "pending")
        .unwrap_or_else(|| panic!("no pending task for {user} in {instance}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn decide(c: &Client, task: &str, decision: &str) -> (reqwest::StatusCode, Value) {
    c.post_json(
        &format!("/api/v1/approvals/tasks/{task}/decision"),
        json!({ "decision": decision, "comment": "OK" }),
    )
    .await
}

pub(crate) fn actions(instance: &Value) -> Vec<String> {
    instance["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_expense_of_6200_walks_manager_second_level_and_finance_to_the_archive() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (status, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "客戶晚宴", "amount": "6,200", "lines": [
            { "item": "晚宴", "cost": "5,000" }, { "item": "的士", "cost": 1200 } ] }),
    )
    .await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(request["status"], "pending");
    assert_eq!(
        request["values"]["amount"],
        json!({ "currency": "HKD", "cents": 620000 })
    );
    assert_eq!(
        request["values"]["lines"]["totals"]["cost"]["cents"],
        620000
    );
    let id = request["id"].as_str().unwrap().to_string();

    // Only the current approver can act; the submitter cannot.
    let bob_task = task_of(&request, &o.bob.1);
    let (status, body) = decide(&o.alice.0, &bob_task, "approve").await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "not_your_task"));
    let (_, inbox) = o.bob.0.get_json("/api/v1/approvals/inbox").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);

    let (status, after_bob) = decide(&o.bob.0, &bob_task, "approve").await;
    assert_eq!(status, 200, "{after_bob}");
    let owner_task = task_of(&after_bob, &o.owner.1);
    let (_, after_owner) = decide(&o.owner.0, &owner_task, "approve").await;
    let fiona_task = task_of(&after_owner, &o.fiona.1);
    let (status, done) = decide(&o.fiona.0, &fiona_task, "approve").await;
    assert_eq!(status, 200);
    assert_eq!(done["status"], "approved");
    assert!(done["finished_at"].is_i64());
    assert_eq!(
        actions(&done),
        [
            "submitted",
            "routed",
            "approved",
            "routed",
            "approved",
            "routed",
            "approved",
            "archived"
        ]
    );
    // Archived read-only: nothing more to decide.
    let (status, body) = decide(&o.fiona.0, &fiona_task, "reject").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "already_decided")
    );
    let (_, mine) = o.alice.0.get_json("/api/v1/approvals/mine").await;
    assert_eq!(mine[0]["instance_id"], id.as_str());
    assert_eq!(mine[0]["status"], "approved");
    let (_, done_box) = o.bob.0.get_json("/api/v1/approvals/inbox?box=done").await;
    assert_eq!(done_box[0]["task_status"], "approved");
    o.t.stop().await;
}

#[tokio::test]
async fn exactly_5000_skips_the_second_level_and_a_rejection_ends_it() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "文具", "amount": 5000 }),
    )
    .await;
    let steps: Vec<&str> = request["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["manager", "finance"]);
    let (_, rejected) = decide(&o.bob.0, &task_of(&request, &o.bob.1), "reject").await;
    assert_eq!(rejected["status"], "rejected");
    assert!(rejected["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] != "pending"));
    o.t.stop().await;
}

/// Routing reads the org as it stands at submission: the head of a
/// department above the submitter's, a person picked on the form, the
/// org's owners, the manager two levels up; and once the submitter's
/// manager has left the org, the chain ends there (the admins take the
/// manager steps) and the person who left can no longer be picked.
#[tokio::test]
async fn the_route_reads_departments_people_and_roles_as_they_stand() {
    let o = office().await;
    let owner = &o.owner.0;
    let (_, finance) = owner
        .post_json(
            "/api/v1/org/departments",
            json!({ "name": "財務部", "head_user_id": o.fiona.1 }),
        )
        .await;
    let (_, payable) = owner
        .post_json(
            "/api/v1/org/departments",
            json!({ "name": "應付帳款組", "parent_id": finance["id"] }),
        )
        .await;
    let res = owner
        .send(
            Method::PUT,
            &format!("/api/v1/org/members/{}/placement", o.alice.1),
            json!({ "department_id": payable["id"], "title": "會計文員" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let template = create_template(
        owner,
        json!({
            "name": "核對", "category": "custom",
            "fields": [ { "key": "checker", "label": "核對人", "type": "person", "required": true } ],
            "flow": { "nodes": [
                { "type": "approver", "id": "head", "name": "部門主管", "approvers": [{ "kind": "department_head" }] },
                { "type": "approver", "id": "checker", "name": "核對", "approvers": [{ "kind": "picked_in_field", "field": "checker" }] },
                { "type": "approver", "id": "second", "name": "二級主管", "approvers": [{ "kind": "manager", "level": 2 }] },
                { "type": "cc", "id": "owners", "name": "知會", "recipients": [{ "kind": "role", "role": "owner" }] }
            ] }
        }),
    )
    .await;
    let approvers = |request: &Value| -> Vec<(String, Vec<String>)> {
        request["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("steps in {request}"))
            .iter()
            .map(|s| {
                let people = s.get("approvers").or_else(|| s.get("recipients")).unwrap();
                (
                    s["node_id"].as_str().unwrap().to_string(),
                    people
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p.as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect()
    };
    let (status, request) = submit(&o.alice.0, &template, json!({ "checker": o.bob.1 })).await;
    assert_eq!(status, 200, "{request}");
    let (fiona, bob, owner_id) = (o.fiona.1.clone(), o.bob.1.clone(), o.owner.1.clone());
    assert_eq!(
        approvers(&request),
        vec![
            ("head".to_string(), vec![fiona.clone()]),
            ("checker".to_string(), vec![bob.clone()]),
            ("second".to_string(), vec![owner_id.clone()]),
            ("owners".to_string(), vec![owner_id.clone()]),
        ]
    );

    // Bob (Alice's manager) leaves the org.
    let res = owner
        .send(
            Method::DELETE,
            &format!("/api/v1/org/members/{bob}"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, refused) = submit(&o.alice.0, &template, json!({ "checker": bob })).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(error_code(&refused), "invalid_values");
    assert!(
        refused["error"]["fields"]["checker"].is_string(),
        "a message at the field: {refused}"
    );
    let (status, request) = submit(&o.alice.0, &template, json!({ "checker": fiona })).await;
    assert_eq!(status, 200, "{request}");
    let steps = approvers(&request);
    assert_eq!(steps[2].0, "second");
    assert_eq!(
        steps[2].1,
        vec![owner_id.clone()],
        "with the chain ended at Bob, the admins take the step"
    );
    assert_eq!(request["steps"][2]["note"], "admins_instead", "{request}");
    o.t.stop().await;
}

#[tokio::test]
async fn bad_values_are_refused_per_field_and_nothing_is_created() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (status, body) = submit(
        &o.alice.0,
        &template,
        json!({
            "amount": "12.345",
            "nights": "three",
            "trip": { "start": "2026-12-05", "end": "2026-12-01" },
            "colour": "red"
        }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "invalid_values");
    let fields = body["error"]["fields"].as_object().unwrap();
    for field in ["reason", "amount", "nights", "trip", "colour"] {
        assert!(fields.contains_key(field), "no message for {field}: {body}");
    }
    // In the user's language (zh-HK by default).
    assert_eq!(fields["amount"], "金額最多兩位小數（仙）。");
    assert_eq!(
        o.t.count("SELECT COUNT(*) AS n FROM approval_instances")
            .await,
        0
    );
    assert_eq!(
        o.t.count("SELECT COUNT(*) AS n FROM approval_tasks").await,
        0
    );
    // A broken design is refused too.
    let mut broken = expense_design(&o.fiona.1);
    broken["flow"]["nodes"][1]["branches"][0]["when"]["field"] = json!("nothing");
    let (status, body) = o
        .owner
        .0
        .post_json("/api/v1/approvals/templates", broken)
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_flow"));
    // Members cannot design templates.
    let (status, _) = o
        .alice
        .0
        .post_json("/api/v1/approvals/templates", expense_design(&o.fiona.1))
        .await;
    assert_eq!(status, 403);
    o.t.stop().await;
}

/// A purchase approved by Bob and Fiona together (`mode`: `or_sign` or
/// `countersign`), then by the owner.
fn bob_and_fiona_then_owner(o: &Office, mode: &str) -> Value {
    json!({
        "name": "採購", "category": "purchase",
        "fields": [ { "key": "item", "label": "物品", "type": "short_text", "required": true } ],
        "flow": { "nodes": [
            { "type": "approver", "id": "pair", "name": "主管與財務", "mode": mode,
              "approvers": [ { "kind": "person", "user_id": o.bob.1 }, { "kind": "person", "user_id": o.fiona.1 } ] },
            { "type": "approver", "id": "owner", "name": "老闆",
              "approvers": [ { "kind": "person", "user_id": o.owner.1 } ] }
        ] }
    })
}

#[tokio::test]
async fn or_sign_approvers_racing_get_one_decision_and_a_double_click_counts_once() {
    let o = office().await;
    let template = create_template(&o.owner.0, bob_and_fiona_then_owner(&o, "or_sign")).await;
    for round in 0..5 {
        let (_, request) = submit(
            &o.alice.0,
            &template,
            json!({ "item": format!("手提電腦 {round}") }),
        )
        .await;
        let (bob_task, fiona_task) = (task_of(&request, &o.bob.1), task_of(&request, &o.fiona.1));
        let (a, b) = tokio::join!(
            decide(&o.bob.0, &bob_task, "approve"),
            decide(&o.fiona.0, &fiona_task, "reject")
        );
        let statuses = [a.0.as_u16(), b.0.as_u16()];
        assert!(
            statuses == [200, 409] || statuses == [409, 200],
            "round {round}: {statuses:?} {} {}",
            a.1,
            b.1
        );
        let loser = if a.0 == 200 { &b.1 } else { &a.1 };
        assert_eq!(error_code(loser), "already_decided");
        let id = request["id"].as_str().unwrap();
        let (_, now) = o
            .alice
            .0
            .get_json(&format!("/api/v1/approvals/instances/{id}"))
            .await;
        let decisions = actions(&now)
            .iter()
            .filter(|a| *a == "approved" || *a == "rejected")
            .count();
        assert_eq!(decisions, 1, "round {round}: {now}");
    }

    // The same approval sent twice at once (a double click) counts once.
    let (_, request) = submit(&o.alice.0, &template, json!({ "item": "顯示器" })).await;
    let bob_task = task_of(&request, &o.bob.1);
    let (a, b) = tokio::join!(
        decide(&o.bob.0, &bob_task, "approve"),
        decide(&o.bob.0, &bob_task, "approve")
    );
    assert_eq!((a.0.as_u16(), b.0.as_u16()), (200, 200), "{} {}", a.1, b.1);
    let id = request["id"].as_str().unwrap();
    let (_, now) = o
        .alice
        .0
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    assert_eq!(actions(&now).iter().filter(|a| *a == "approved").count(), 1);
    assert_eq!(
        now["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["assignee_id"] == o.owner.1.as_str())
            .count(),
        1,
        "the next step started once"
    );
    o.t.stop().await;
}

#[tokio::test]
async fn countersign_approvers_at_the_same_moment_both_count_and_the_flow_moves_on_once() {
    let o = office().await;
    let template = create_template(&o.owner.0, bob_and_fiona_then_owner(&o, "countersign")).await;
    for round in 0..5 {
        let (_, request) = submit(
            &o.alice.0,
            &template,
            json!({ "item": format!("投影機 {round}") }),
        )
        .await;
        let (bob_task, fiona_task) = (task_of(&request, &o.bob.1), task_of(&request, &o.fiona.1));
        let (a, b) = tokio::join!(
            decide(&o.bob.0, &bob_task, "approve"),
            decide(&o.fiona.0, &fiona_task, "approve")
        );
        assert_eq!((a.0.as_u16(), b.0.as_u16()), (200, 200), "{} {}", a.1, b.1);
        let id = request["id"].as_str().unwrap();
        let (_, now) = o
            .alice
            .0
            .get_json(&format!("/api/v1/approvals/instances/{id}"))
            .await;
        let trail = actions(&now);
        assert_eq!(
            trail.iter().filter(|a| *a == "approved").count(),
            2,
            "round {round}: both decisions count: {now}"
        );
        // Neither approver alone moved the request on, and together they
        // did once: the owner has exactly one task.
        assert_eq!(
            trail.iter().filter(|a| *a == "routed").count(),
            2,
            "round {round}: {now}"
        );
        let owner_tasks: Vec<&Value> = now["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["assignee_id"] == o.owner.1.as_str())
            .collect();
        assert_eq!(owner_tasks.len(), 1, "round {round}: {now}");
        assert_eq!(owner_tasks[0]["status"], "pending");
        assert_eq!(now["step_index"], 1);
    }
    o.t.stop().await;
}

#[tokio::test]
async fn outsiders_see_nothing_and_requests_keep_their_template_version() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "書", "amount": 300 }),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_string();
    let bob_task = task_of(&request, &o.bob.1);

    // Someone of another org, guessing the ids.
    let stranger =
        o.t.register_email("mallory@example.com", "Mallory", Some("別家公司"), None)
            .await;
    for path in [
        format!("/api/v1/approvals/instances/{id}"),
        format!("/api/v1/approvals/templates/{template}"),
    ] {
        let (status, _) = stranger.get_json(&path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = decide(&stranger, &bob_task, "approve").await;
    assert_eq!(status, 404);
    let (status, _) = stranger
        .post_json(
            &format!("/api/v1/approvals/instances/{id}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    // A member of the same org with no part in it cannot read it either.
    let (status, _) = o
        .fiona
        .0
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    assert_eq!(status, 404);

    // The admin edits the template: the request keeps version 1.
    let mut v2 = expense_design(&o.fiona.1);
    v2["name"] = json!("報銷（新）");
    v2["fields"][0]["label"] = json!("用途");
    let res = o
        .owner
        .0
        .send(
            Method::PUT,
            &format!("/api/v1/approvals/templates/{template}"),
            v2,
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, now) = o
        .alice
        .0
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    assert_eq!(now["template_version"], 1);
    let (_, old) = o
        .alice
        .0
        .get_json(&format!("/api/v1/approvals/templates/{template}?version=1"))
        .await;
    assert_eq!(old["fields"][0]["label"], "事由");
    let (_, current) = o
        .alice
        .0
        .get_json(&format!("/api/v1/approvals/templates/{template}"))
        .await;
    assert_eq!(
        (
            current["version"].as_i64(),
            current["fields"][0]["label"].as_str()
        ),
        (Some(2), Some("用途"))
    );

    // Only the submitter withdraws; then nothing is left to decide.
    let (status, _) = o
        .bob
        .0
        .post_json(
            &format!("/api/v1/approvals/instances/{id}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, withdrawn) = o
        .alice
        .0
        .post_json(
            &format!("/api/v1/approvals/instances/{id}/withdraw"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(withdrawn["status"], "withdrawn");
    let (status, body) = decide(&o.bob.0, &bob_task, "approve").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "already_decided")
    );
    o.t.stop().await;
}

pub(crate) async fn set_delegate(c: &Client, body: Value) -> (reqwest::StatusCode, Value) {
    let res = c
        .send(Method::PUT, "/api/v1/approvals/delegate", body)
        .await;
    let status = res.status();
    (status, res.json().await.unwrap())
}

pub(crate) async fn instance_of(c: &Client, id: &str) -> Value {
    let (status, body) = c
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs the due jobs now (the server's own poller may have run some
/// already; each runs once either way).
pub(crate) async fn run_jobs(t: &TestServer) {
    tram::job_runner().run_due(t.state()).await.unwrap();
}

#[tokio::test]
async fn an_undecided_task_is_reminded_then_moves_to_the_delegate_once() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    // Bad delegate settings change nothing.
    let (status, body) = set_delegate(&o.bob.0, json!({ "delegate_id": o.bob.1 })).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_delegate")
    );
    let (status, _) = set_delegate(
        &o.bob.0,
        json!({ "delegate_id": o.fiona.1, "away_from": 2000, "away_until": 1000 }),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = set_delegate(&o.bob.0, json!({ "delegate_id": o.fiona.1 })).await;
    assert_eq!(status, 200, "{body}");

    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "機票", "amount": 800 }),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_string();
    let bob_task = task_of(&request, &o.bob.1);

    // 22 h 30 min later: reminded (2 h before the deadline), not moved.
    o.t.advance(22 * 3600 + 1800);
    run_jobs(&o.t).await;
    let now = instance_of(&o.alice.0, &id).await;
    assert!(actions(&now).contains(&"reminded".to_string()), "{now}");
    assert_eq!(task_of(&now, &o.bob.1), bob_task);

    // Past the deadline: the task is Fiona's, once, even with two runners racing.
    o.t.advance(2 * 3600);
    let (one, two) = (tram::job_runner(), tram::job_runner());
    let (a, b) = tokio::join!(one.run_due(o.t.state()), two.run_due(o.t.state()));
    a.unwrap();
    b.unwrap();
    run_jobs(&o.t).await;
    let now = instance_of(&o.alice.0, &id).await;
    assert_eq!(
        actions(&now).iter().filter(|a| *a == "delegated").count(),
        1,
        "{now}"
    );
    let fiona_task = task_of(&now, &o.fiona.1);
    let moved: Vec<&Value> = now["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "moved")
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["assignee_id"], o.bob.1.as_str());
    // Bob can no longer decide; Fiona can.
    let (status, body) = decide(&o.bob.0, &bob_task, "approve").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "already_decided")
    );
    let (status, after) = decide(&o.fiona.0, &fiona_task, "approve").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        after["tasks"].as_array().unwrap().last().unwrap()["node_id"],
        "finance"
    );
    o.t.stop().await;
}

#[tokio::test]
async fn a_timeout_due_while_the_server_was_down_fires_once_after_the_restart() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    set_delegate(&o.bob.0, json!({ "delegate_id": o.owner.1 })).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "酒店", "amount": 900 }),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_string();
    let t = o.t.restart().await;
    t.advance(25 * 3600);
    let t = t.restart().await;
    run_jobs(&t).await;
    run_jobs(&t).await;
    let now = instance_of(&o.alice.0, &id).await;
    assert_eq!(
        actions(&now).iter().filter(|a| *a == "delegated").count(),
        1,
        "{now}"
    );
    task_of(&now, &o.owner.1);
    t.stop().await;
}

#[tokio::test]
async fn while_out_of_office_new_tasks_go_to_the_delegate_at_once() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let now = o.t.clock.now_ms();
    let (status, _) = set_delegate(
        &o.bob.0,
        json!({ "delegate_id": o.owner.1, "away_from": now - 1000, "away_until": now + 7 * 86_400_000 }),
    )
    .await;
    assert_eq!(status, 200);
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "午餐", "amount": 100 }),
    )
    .await;
    let task = &request["tasks"][0];
    assert_eq!(task["assignee_id"], o.owner.1.as_str());
    assert_eq!(task["moved_from"], o.bob.1.as_str());
    // Bob does not see it in his inbox; the owner does.
    let (_, inbox) = o.bob.0.get_json("/api/v1/approvals/inbox").await;
    assert!(inbox.as_array().unwrap().is_empty());
    let (_, inbox) = o.owner.0.get_json("/api/v1/approvals/inbox").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    o.t.stop().await;
}

#[tokio::test]
async fn transfer_add_approvers_return_and_resubmit() {
    let o = office().await;
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let (_, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "培訓", "amount": 1000 }),
    )
    .await;
    let id = request["id"].as_str().unwrap().to_string();
    let bob_task = task_of(&request, &o.bob.1);

    // Bob adds the owner before himself: the owner decides first, then Bob.
    let (status, added) = o
        .bob
        .0
        .post_json(
            &format!("/api/v1/approvals/tasks/{bob_task}/add-approver"),
            json!({ "user_id": o.owner.1, "position": "before", "comment": "請老闆先看" }),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    let (status, body) = decide(&o.bob.0, &bob_task, "approve").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "already_decided"),
        "Bob waits"
    );
    let (_, after_owner) = decide(&o.owner.0, &task_of(&added, &o.owner.1), "approve").await;
    assert_eq!(
        task_of(&after_owner, &o.bob.1),
        bob_task,
        "Bob's task is back"
    );

    // Bob adds Fiona after himself, then approves: Fiona decides next.
    let (status, _) = o
        .bob
        .0
        .post_json(
            &format!("/api/v1/approvals/tasks/{bob_task}/add-approver"),
            json!({ "user_id": o.fiona.1, "position": "after" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, after_bob) = decide(&o.bob.0, &bob_task, "approve").await;
    let fiona_added = task_of(&after_bob, &o.fiona.1);

    // Fiona transfers it to the owner (not to the submitter, not to herself).
    for bad in [&o.alice.1, &o.fiona.1] {
        let (status, body) = o
            .fiona
            .0
            .post_json(
                &format!("/api/v1/approvals/tasks/{fiona_added}/transfer"),
                json!({ "user_id": bad }),
            )
            .await;
        assert_eq!(
            (status.as_u16(), error_code(&body)),
            (400, "invalid_assignee")
        );
    }
    let (status, transferred) = o
        .fiona
        .0
        .post_json(
            &format!("/api/v1/approvals/tasks/{fiona_added}/transfer"),
            json!({ "user_id": o.owner.1, "comment": "我放假" }),
        )
        .await;
    assert_eq!(status, 200, "{transferred}");
    let owner_task = task_of(&transferred, &o.owner.1);

    // The owner returns it to Alice; she fixes the amount and resubmits.
    let (status, returned) = o
        .owner
        .0
        .post_json(
            &format!("/api/v1/approvals/tasks/{owner_task}/return"),
            json!({ "comment": "金額要附單據" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(returned["status"], "returned");
    let (status, body) = o
        .bob
        .0
        .post_json(
            &format!("/api/v1/approvals/instances/{id}/resubmit"),
            json!({ "values": { "reason": "培訓", "amount": 900 } }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "not_submitter"));
    let (status, body) = o
        .alice
        .0
        .post_json(
            &format!("/api/v1/approvals/instances/{id}/resubmit"),
            json!({ "values": { "reason": "培訓", "amount": "9.999" } }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_values")
    );
    let (status, again) = o
        .alice
        .0
        .post_json(
            &format!("/api/v1/approvals/instances/{id}/resubmit"),
            json!({ "values": { "reason": "培訓", "amount": 900 } }),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["status"], "pending");
    assert_eq!(again["values"]["amount"]["cents"], 90000);
    let new_bob = task_of(&again, &o.bob.1);
    assert_ne!(new_bob, bob_task);
    let (_, next) = decide(&o.bob.0, &new_bob, "approve").await;
    let (_, done) = decide(&o.fiona.0, &task_of(&next, &o.fiona.1), "approve").await;
    assert_eq!(done["status"], "approved");
    let trail = actions(&done);
    for action in [
        "added_before",
        "added_after",
        "transferred",
        "returned",
        "resubmitted",
        "archived",
    ] {
        assert!(trail.contains(&action.to_string()), "{action} in {trail:?}");
    }
    o.t.stop().await;
}
