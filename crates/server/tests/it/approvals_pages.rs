//! The approval pages as a browser uses them (HTML forms, redirects): an
//! admin adds the gallery's expense claim, a member submits it (bad values
//! shown at their fields and nothing created), approvers act through the
//! request page to the archive, the print view; outsiders get 404; the
//! designer and the delegate setting.

use serde_json::{json, Value};

use crate::approvals::{office, Office};
use crate::kit::Client;

/// A page as a browser asks for it: (status, Location, body).
async fn page(c: &Client, path: &str) -> (u16, String, String) {
    let res = c
        .http
        .get(c.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    answer(res).await
}

/// Posts an HTML form (with the CSRF field, as the pages do).
async fn form(c: &Client, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let token = c.csrf().await;
    let mut pairs: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
    pairs.extend_from_slice(fields);
    let res = c
        .http
        .post(c.url(path))
        .header("accept", "text/html")
        .form(&pairs)
        .send()
        .await
        .unwrap();
    answer(res).await
}

async fn answer(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// The admin adds the gallery's expense claim with Fiona for finance.
async fn expense_template(o: &Office) -> String {
    let (status, location, body) = form(
        &o.owner.0,
        "/approvals/admin/templates/gallery",
        &[("kind", "expense"), ("finance_user_id", &o.fiona.1)],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/approvals/admin/templates"),
        "{body}"
    );
    let (_, list) = o.owner.0.get_json("/api/v1/approvals/templates").await;
    let template = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["category"] == "expense")
        .expect("the expense claim was added");
    template["id"].as_str().unwrap().to_string()
}

/// Submits Alice's HK$6,200 claim (5,000 + 1,200) through the form.
async fn submit_6200(o: &Office, template: &str) -> String {
    let (status, location, body) = form(
        &o.alice.0,
        &format!("/approvals/new/{template}"),
        &[
            ("reason", "客戶晚宴"),
            ("lines[1].date", "2026-11-02"),
            ("lines[1].item", "晚宴"),
            ("lines[1].amount", "5,000"),
            ("lines[2].date", "2026-11-02"),
            ("lines[2].item", "的士"),
            ("lines[2].amount", "1200.00"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    location
        .strip_prefix("/approvals/")
        .expect(&location)
        .to_string()
}

async fn instance(c: &Client, id: &str) -> Value {
    let (status, body) = c
        .get_json(&format!("/api/v1/approvals/instances/{id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn pending_task(instance: &Value, user: &str) -> String {
    instance["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["assignee_id"] == user && t["status"] == "pending")
        .unwrap_or_else(|| panic!("no pending task for {user}: {instance}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `who` approves their task on the request page.
async fn approve(who: &(Client, String), id: &str, comment: &str) {
    let (_, _, html) = page(&who.0, &format!("/approvals/{id}")).await;
    assert!(html.contains("data-testid=\"approve\""), "{html}");
    let task = pending_task(&instance(&who.0, id).await, &who.1);
    let (status, location, body) = form(
        &who.0,
        &format!("/approvals/{id}/act"),
        &[
            ("task_id", &task),
            ("action", "approve"),
            ("comment", comment),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/approvals/{id}").as_str()),
        "{body}"
    );
}

#[tokio::test]
async fn an_expense_of_6200_submitted_on_the_form_walks_to_the_archive() {
    let o = office().await;
    let template = expense_template(&o).await;
    let (status, _, admin) = page(&o.owner.0, "/approvals/admin/templates").await;
    assert_eq!(status, 200);
    assert!(admin.contains("data-testid=\"template-row\""));

    // Alice sees the form and it has the detail table and its total.
    let (status, _, home) = page(&o.alice.0, "/approvals").await;
    assert_eq!(status, 200);
    assert!(
        home.contains(&format!("/approvals/new/{template}")),
        "{home}"
    );
    assert!(
        home.contains("href=\"/approvals\""),
        "the navigation has Approvals"
    );
    let (status, _, new) = page(&o.alice.0, &format!("/approvals/new/{template}")).await;
    assert_eq!(status, 200);
    for testid in ["table-lines", "add-row-lines", "total-lines", "submit"] {
        assert!(
            new.contains(&format!("data-testid=\"{testid}\"")),
            "{testid}"
        );
    }

    let id = submit_6200(&o, &template).await;
    // My submissions say where it stands: with Bob, the manager.
    let (_, _, home) = page(&o.alice.0, "/approvals").await;
    assert!(home.contains("data-testid=\"mine-item\""));
    let standing = home.split("data-testid=\"standing\">").nth(1).unwrap();
    assert!(standing.starts_with("直屬主管: Bob"), "{standing}");
    // Bob's inbox has it pending.
    let (_, _, inbox) = page(&o.bob.0, "/approvals?box=pending").await;
    assert!(
        inbox.contains(&format!("data-testid=\"pick-{id}\"")),
        "{inbox}"
    );

    approve(&o.bob, &id, "同意").await;
    // Over HK$5,000: the second-level manager (the owner) next.
    let now = instance(&o.alice.0, &id).await;
    assert_eq!(now["steps"][1]["node_id"], "second");
    approve(&o.owner, &id, "可以").await;
    approve(&o.fiona, &id, "已核對").await;

    let done = instance(&o.alice.0, &id).await;
    assert_eq!(done["status"], "approved");
    let (status, _, html) = page(&o.alice.0, &format!("/approvals/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-status=\"approved\""));
    // Finished: read-only, no actions for anyone.
    assert!(!html.contains("data-testid=\"actions\""));
    assert!(!html.contains("data-testid=\"withdraw\""));
    assert!(html.contains("HK$6,200.00"), "the total is shown");
    for comment in ["同意", "可以", "已核對"] {
        assert!(html.contains(comment), "the trail keeps “{comment}”");
    }
    assert!(html.contains("歸檔"), "the trail ends archived");
    let (_, _, fiona_view) = page(&o.fiona.0, &format!("/approvals/{id}")).await;
    assert!(!fiona_view.contains("data-testid=\"approve\""));

    let (status, _, print) = page(&o.alice.0, &format!("/approvals/{id}/print")).await;
    assert_eq!(status, 200);
    assert!(print.contains("data-testid=\"print-view\""));
    assert!(print.contains("size: A4"));
    assert!(print.contains("HK$6,200.00") && print.contains("已核對"));
}

#[tokio::test]
async fn bad_values_are_shown_at_their_fields_kept_and_nothing_is_created() {
    let o = office().await;
    let template = expense_template(&o).await;
    let (status, _, html) = form(
        &o.alice.0,
        &format!("/approvals/new/{template}"),
        &[
            ("reason", ""),
            ("lines[1].date", "2026-11-02"),
            ("lines[1].item", "晚宴"),
            ("lines[1].amount", "12.345"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("data-testid=\"error-reason\""), "{html}");
    assert!(
        html.contains("data-testid=\"error-lines[1].amount\""),
        "{html}"
    );
    // What was typed is kept.
    assert!(html.contains("value=\"12.345\"") && html.contains("value=\"晚宴\""));
    assert_eq!(
        o.t.count("SELECT COUNT(*) FROM approval_instances").await,
        0
    );

    // A switched-off template has no form.
    let (status, location, _) = form(
        &o.owner.0,
        &format!("/approvals/admin/templates/{template}/enabled"),
        &[("enabled", "false")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/approvals/admin/templates")
    );
    let (status, _, _) = page(&o.alice.0, &format!("/approvals/new/{template}")).await;
    assert_eq!(status, 409);
    // The gallery refuses without a finance approver, at that field.
    let (status, _, html) = form(
        &o.owner.0,
        "/approvals/admin/templates/gallery",
        &[("kind", "leave"), ("finance_user_id", "")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"finance_user_id-error\""), "{html}");
    // Members cannot reach the admin pages.
    let (status, _, _) = page(&o.alice.0, "/approvals/admin/templates").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn outsiders_get_404_and_only_the_current_approver_acts() {
    let o = office().await;
    let template = expense_template(&o).await;
    let id = submit_6200(&o, &template).await;
    let bob_task = pending_task(&instance(&o.bob.0, &id).await, &o.bob.1);
    let stranger =
        o.t.register_email("mallory@example.com", "Mallory", Some("別家公司"), None)
            .await;
    for path in [
        format!("/approvals/{id}"),
        format!("/approvals/{id}/print"),
        format!("/approvals/new/{template}"),
    ] {
        let (status, _, _) = page(&stranger, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _) = form(
        &stranger,
        &format!("/approvals/{id}/act"),
        &[("task_id", &bob_task), ("action", "approve")],
    )
    .await;
    assert_eq!(status, 404);
    // Fiona (same org, not yet involved) cannot read it.
    let (status, _, _) = page(&o.fiona.0, &format!("/approvals/{id}")).await;
    assert_eq!(status, 404);
    // Alice cannot approve her own request with Bob's task.
    let (status, _, html) = form(
        &o.alice.0,
        &format!("/approvals/{id}/act"),
        &[("task_id", &bob_task), ("action", "approve")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("alert error"));
    assert_eq!(instance(&o.alice.0, &id).await["step_index"], 0);

    // Bob returns it; Alice resubmits from the prefilled form.
    let (status, _, _) = form(
        &o.bob.0,
        &format!("/approvals/{id}/act"),
        &[
            ("task_id", &bob_task),
            ("action", "return"),
            ("comment", "補收據"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, html) = page(&o.alice.0, &format!("/approvals/{id}")).await;
    assert!(html.contains("data-testid=\"resubmit\""));
    let (status, _, prefilled) = page(&o.alice.0, &format!("/approvals/{id}/resubmit")).await;
    assert_eq!(status, 200);
    assert!(prefilled.contains("value=\"5000.00\"") && prefilled.contains("客戶晚宴"));
    let (status, _, body) = form(
        &o.alice.0,
        &format!("/approvals/{id}/resubmit"),
        &[
            ("reason", "客戶晚宴（附收據）"),
            ("lines[1].date", "2026-11-02"),
            ("lines[1].item", "晚宴"),
            ("lines[1].amount", "300"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(instance(&o.alice.0, &id).await["status"], "pending");
    // Then withdraws it.
    let (status, _, _) = form(&o.alice.0, &format!("/approvals/{id}/withdraw"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(instance(&o.alice.0, &id).await["status"], "withdrawn");
}

#[tokio::test]
async fn the_designer_saves_new_versions_and_shows_errors() {
    let o = office().await;
    let template = expense_template(&o).await;
    let path = format!("/approvals/admin/templates/{template}");
    let (status, _, html) = page(&o.owner.0, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"designer-flow\""));
    // The current fields are rows: the lines table with its columns.
    assert!(html.contains("name=\"f[2].key\" value=\"lines\""), "{html}");
    let flow = r#"{"nodes":[{"type":"approver","id":"manager","name":"主管","approvers":[{"kind":"manager"}]}]}"#;
    let fields: Vec<(&str, &str)> = vec![
        ("name", "報銷（新）"),
        ("category", "expense"),
        ("f[1].type", "short_text"),
        ("f[1].label", "事由"),
        ("f[1].key", "reason"),
        ("f[1].required", "on"),
        ("f[2].type", "money"),
        ("f[2].label", "金額"),
        ("f[2].key", "amount"),
        ("f[2].min", "0"),
        ("f[2].max", "abc"),
        ("f[3].type", "single_select"),
        ("f[3].label", "類別"),
        ("f[3].key", "kind"),
        ("f[3].options", "交通\n膳食\n"),
        ("flow", flow),
    ];
    // A bound that is not a number: refused at the fields, rows kept.
    let (status, _, html) = form(&o.owner.0, &path, &fields).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"fields-error\""), "{html}");
    assert!(html.contains("value=\"abc\""));
    // Bad flow JSON: refused at the flow.
    let mut fixed = fields.clone();
    fixed[10] = ("f[2].max", "100000");
    let mut broken = fixed.clone();
    broken[15] = ("flow", "{not json");
    let (status, _, html) = form(&o.owner.0, &path, &broken).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"flow-error\""), "{html}");
    let (status, location, body) = form(&o.owner.0, &path, &fixed).await;
    assert_eq!((status, location.as_str()), (303, path.as_str()), "{body}");
    let (_, after) = o
        .owner
        .0
        .get_json(&format!("/api/v1/approvals/templates/{template}"))
        .await;
    assert_eq!(
        (after["version"].as_i64(), after["name"].as_str()),
        (Some(2), Some("報銷（新）"))
    );
    assert_eq!(
        after["fields"][1],
        json!({ "key": "amount", "label": "金額", "required": false, "type": "money", "currency": "HKD", "min": 0.0, "max": 100000.0 })
    );
    assert_eq!(after["fields"][2]["options"], json!(["交通", "膳食"]));
    assert_eq!(after["fields"][0]["required"], json!(true));
}

/// A table's columns posted as JSON (the designer without script, and what
/// its column editor posts): a column without a key is refused at that
/// field's row, naming the column, and nothing is saved; the JSON API names
/// the same column.
#[tokio::test]
async fn a_bad_table_column_is_refused_at_its_row() {
    let o = office().await;
    let template = expense_template(&o).await;
    let path = format!("/approvals/admin/templates/{template}");
    let columns = r#"[{"key":"item","label":"項目","type":"short_text","required":true},
        {"key":"","label":"金額","type":"money","required":true}]"#;
    let flow = r#"{"nodes":[{"type":"approver","id":"manager","name":"主管","approvers":[{"kind":"manager"}]}]}"#;
    let fields: Vec<(&str, &str)> = vec![
        ("name", "報銷"),
        ("category", "expense"),
        ("f[1].type", "short_text"),
        ("f[1].label", "事由"),
        ("f[1].key", "reason"),
        ("f[2].type", "table"),
        ("f[2].label", "明細"),
        ("f[2].key", "lines"),
        ("f[2].columns", columns),
        ("flow", flow),
    ];
    let (status, _, html) = form(&o.owner.0, &path, &fields).await;
    assert_eq!(status, 400, "{html}");
    let at_row = html
        .split("name=\"f[2].key\"")
        .nth(1)
        .and_then(|row| row.split("</tr>").next())
        .expect("the table's row is shown again");
    assert!(
        at_row.contains("data-field-error data-column=\"2\""),
        "{at_row}"
    );
    assert!(at_row.contains("lines.columns[2]"), "{at_row}");
    // The columns are shown again as posted.
    assert!(at_row.contains("金額"), "{at_row}");
    let (_, after) = o
        .owner
        .0
        .get_json(&format!("/api/v1/approvals/templates/{template}"))
        .await;
    assert_eq!(after["version"], 1, "nothing saved");

    let design = json!({
        "name": "報銷",
        "category": "expense",
        "fields": [{ "key": "lines", "label": "明細", "type": "table",
            "columns": serde_json::from_str::<Value>(columns).unwrap() }],
        "flow": serde_json::from_str::<Value>(flow).unwrap(),
    });
    let res = o
        .owner
        .0
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/approvals/templates/{template}"),
            design,
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_form", "{body}");
    assert!(
        body["error"]["fields"]["fields.lines.columns[2]"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn the_delegate_setting_saves_and_refuses_a_reversed_period() {
    let o = office().await;
    let (status, _, html) = page(&o.alice.0, "/settings/approvals").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"delegate-form\""));
    let (status, _, html) = form(
        &o.alice.0,
        "/settings/approvals",
        &[
            ("delegate_id", &o.bob.1),
            ("away_from", "2026-12-10T09:00"),
            ("away_until", "2026-12-01T09:00"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"away-error\""), "{html}");
    let (_, setting) = o.alice.0.get_json("/api/v1/approvals/delegate").await;
    assert_eq!(setting["delegate_id"], Value::Null);
    let (status, _, html) = form(
        &o.alice.0,
        "/settings/approvals",
        &[
            ("delegate_id", &o.bob.1),
            ("away_from", "2026-12-01T09:00"),
            ("away_until", "2026-12-10T18:00"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-testid=\"delegate-saved\""));
    let (_, setting) = o.alice.0.get_json("/api/v1/approvals/delegate").await;
    assert_eq!(setting["delegate_id"], json!(o.bob.1));
    // 09:00 in Hong Kong is 01:00 UTC.
    assert_eq!(setting["away_from"], json!(1_796_086_800_000_i64));
}

#[tokio::test]
async fn bulk_approve_decides_each_ticked_task() {
    let o = office().await;
    let template = expense_template(&o).await;
    let first = submit_6200(&o, &template).await;
    let second = submit_6200(&o, &template).await;
    let tasks = [
        pending_task(&instance(&o.bob.0, &first).await, &o.bob.1),
        pending_task(&instance(&o.bob.0, &second).await, &o.bob.1),
    ];
    // Nothing ticked: refused, nothing decided.
    let (status, _, html) = form(&o.bob.0, "/approvals/bulk", &[("comment", "")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("alert error"));
    let (status, location, _) = form(
        &o.bob.0,
        "/approvals/bulk",
        &[
            ("task_id", &tasks[0]),
            ("task_id", &tasks[1]),
            ("comment", "一併批准"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/approvals?done=2"));
    for id in [&first, &second] {
        let now = instance(&o.alice.0, id).await;
        assert_eq!(now["step_index"], 1, "{now}");
    }
    let (_, _, html) = page(&o.bob.0, "/approvals?box=done&done=2").await;
    assert!(html.contains("data-testid=\"notice\""));
    assert_eq!(html.matches("data-testid=\"inbox-item\"").count(), 2);
    // Alice cannot bulk-approve Bob's tasks: nothing changes.
    let (status, location, _) =
        form(&o.alice.0, "/approvals/bulk", &[("task_id", &tasks[0])]).await;
    assert_eq!((status, location.as_str()), (303, "/approvals?done=0"));
}

#[tokio::test]
async fn the_out_of_office_period_is_typed_and_shown_in_the_orgs_time_zone() {
    let o = office().await;
    // An org in New York (daylight saving; set where the org's settings
    // would be kept).
    sqlx::query("UPDATE orgs SET time_zone = 'America/New_York'")
        .execute(o.t.state().db.write())
        .await
        .unwrap();
    let (_, _, html) = page(&o.alice.0, "/settings/approvals").await;
    assert!(html.contains("data-zone=\"America/New_York\""), "{html}");
    let save = |from: &'static str, until: &'static str| {
        let bob = o.bob.1.clone();
        let alice = &o.alice.0;
        async move {
            form(
                alice,
                "/settings/approvals",
                &[
                    ("delegate_id", bob.as_str()),
                    ("away_from", from),
                    ("away_until", until),
                ],
            )
            .await
        }
    };
    // New Year's Eve, 23:30 in New York, is already 1 January in UTC
    // (04:30); the wall-clock time comes back as typed.
    let (status, _, html) = save("2026-12-31T23:30", "2027-01-02T08:00").await;
    assert_eq!(status, 200, "{html}");
    let (_, setting) = o.alice.0.get_json("/api/v1/approvals/delegate").await;
    assert_eq!(setting["away_from"], json!(1_798_777_800_000_i64)); // 2027-01-01T04:30Z
    assert_eq!(setting["away_until"], json!(1_798_894_800_000_i64)); // 2027-01-02T13:00Z
    let (_, _, html) = page(&o.alice.0, "/settings/approvals").await;
    assert!(html.contains("value=\"2026-12-31T23:30\""), "{html}");
    assert!(html.contains("value=\"2027-01-02T08:00\""), "{html}");

    // Clocks go forward at 02:00 on 8 March: 02:30 does not exist and is
    // the end of the gap (03:00 EDT, 07:00 UTC); they go back at 02:00 on
    // 1 November: 01:30 happens twice and is the first (EDT, 05:30 UTC).
    let (status, _, html) = save("2026-03-08T02:30", "2026-11-01T01:30").await;
    assert_eq!(status, 200, "{html}");
    let (_, setting) = o.alice.0.get_json("/api/v1/approvals/delegate").await;
    assert_eq!(setting["away_from"], json!(1_772_953_200_000_i64)); // 2026-03-08T07:00Z
    assert_eq!(setting["away_until"], json!(1_793_511_000_000_i64)); // 2026-11-01T05:30Z
    let (_, _, html) = page(&o.alice.0, "/settings/approvals").await;
    assert!(html.contains("value=\"2026-03-08T03:00\""), "{html}");
    assert!(html.contains("value=\"2026-11-01T01:30\""), "{html}");

    // What the API stores in UTC is shown in the zone: 2026-07-01T03:59Z
    // is 23:59 on 30 June in New York (EDT, UTC-4).
    let res = o
        .alice
        .0
        .send(
            reqwest::Method::PUT,
            "/api/v1/approvals/delegate",
            json!({ "delegate_id": o.bob.1, "away_from": 1_782_878_340_000_i64,
                    "away_until": 1_782_964_800_000_i64 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, _, html) = page(&o.alice.0, "/settings/approvals").await;
    assert!(html.contains("value=\"2026-06-30T23:59\""), "{html}");
    assert!(html.contains("value=\"2026-07-02T00:00\""), "{html}");
}
