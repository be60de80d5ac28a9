//! Approval statistics with known data: three requests, two decided by Bob
//! after one and two hours, one left past its deadline; counts, median and
//! p90 time to decision, and overdue tasks per template and approver, from
//! the API, as SVG charts, and on the admins' page with a date range.

use serde_json::{json, Value};

use crate::approvals::{create_template, decide, expense_design, office, submit, task_of, Office};
use crate::kit::error_code;

const HOUR_MS: i64 = 3_600_000;

fn by<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == id)
        .unwrap_or_else(|| panic!("no {id} in {list}"))
}

/// Two decisions, after one and two hours (the test's clock also runs in
/// real time: allow a minute).
fn assert_timing(timing: &Value) {
    assert_eq!(timing["decided"], 2, "{timing}");
    let near = |v: &Value, want: i64| (want..want + 60_000).contains(&v.as_i64().unwrap());
    assert!(near(&timing["median_ms"], HOUR_MS), "{timing}");
    assert!(near(&timing["p90_ms"], 2 * HOUR_MS), "{timing}");
}

/// Alice submits three expenses; Bob approves the first after an hour and
/// decides the second (`second`) an hour later; then 30 more hours pass.
async fn seed(o: &Office, second: &str) -> String {
    let template = create_template(&o.owner.0, expense_design(&o.fiona.1)).await;
    let mut tasks = Vec::new();
    for amount in [100, 200, 300] {
        let (status, request) = submit(
            &o.alice.0,
            &template,
            json!({ "reason": "的士", "amount": amount }),
        )
        .await;
        assert_eq!(status, 200, "{request}");
        tasks.push(task_of(&request, &o.bob.1));
    }
    o.t.advance(3600);
    assert_eq!(decide(&o.bob.0, &tasks[0], "approve").await.0, 200);
    o.t.advance(3600);
    assert_eq!(decide(&o.bob.0, &tasks[1], second).await.0, 200);
    o.t.advance(30 * 3600);
    template
}

#[tokio::test]
async fn stats_count_time_to_decision_and_overdue_tasks() {
    let o = office().await;
    let template = seed(&o, "approve").await;
    // 32 h after submitting: Bob's third task and Fiona's two are overdue.

    let (status, body) = o.alice.0.get_json("/api/v1/approvals/stats").await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "admin_only"));
    let (status, stats) = o.owner.0.get_json("/api/v1/approvals/stats").await;
    assert_eq!(status, 200, "{stats}");

    let t = by(&stats["templates"], "template_id", &template);
    assert_eq!(t["name"], "報銷");
    assert_eq!(t["requests"], json!({ "pending": 3 }));
    assert_timing(&t["timing"]);
    assert_eq!(t["overdue"], 3);

    let bob = by(&stats["approvers"], "user_id", &o.bob.1);
    assert_eq!(bob["name"], "Bob");
    assert_eq!(bob["tasks"], json!({ "approved": 2, "pending": 1 }));
    assert_timing(&bob["timing"]);
    assert_eq!(bob["overdue"], 1);
    let fiona = by(&stats["approvers"], "user_id", &o.fiona.1);
    assert_eq!(fiona["tasks"], json!({ "pending": 2 }));
    assert_eq!(
        fiona["timing"],
        json!({ "decided": 0, "median_ms": null, "p90_ms": null })
    );
    assert_eq!(fiona["overdue"], 2);

    // The same as an SVG bar chart: overdue per approver, Bob 1 and Fiona 2
    // (the longest bar).
    let res = o
        .owner
        .0
        .get("/api/v1/approvals/stats/chart.svg?by=approver&measure=overdue")
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("image/svg+xml"));
    let chart = res.text().await.unwrap();
    assert!(chart.starts_with("<svg"), "{chart}");
    assert!(chart.contains("逾期任務（按審批人）"), "{chart}");
    assert!(
        chart.contains("width=\"360.0\" height=\"20\" fill=\"#3478f6\" data-value=\"2\""),
        "{chart}"
    );
    assert!(
        chart.contains("width=\"180.0\" height=\"20\" fill=\"#3478f6\" data-value=\"1\""),
        "{chart}"
    );
    let (status, body) = o
        .owner
        .0
        .get_json("/api/v1/approvals/stats/chart.svg?measure=speed")
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_chart"));
    let res = o.alice.0.get("/api/v1/approvals/stats/chart.svg").await;
    assert_eq!(res.status(), 403);
    o.t.stop().await;
}

/// The text of `cell` in the statistics table row of `id`.
fn cell(html: &str, id: &str, cell: &str) -> String {
    let row = html
        .find(&format!("data-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row {id} in {html}"));
    let row = &html[row..];
    let end = row.find("</tr>").unwrap();
    let marker = format!("data-cell=\"{cell}\">");
    let at = row[..end]
        .find(&marker)
        .unwrap_or_else(|| panic!("no {cell} in {}", &row[..end]))
        + marker.len();
    row[at..].split('<').next().unwrap().to_string()
}

async fn stats_page(c: &crate::kit::Client, query: &str) -> (u16, String) {
    let res = c
        .http
        .get(c.url(&format!("/approvals/admin/stats{query}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_stats_page_shows_the_seeded_decisions_to_admins_only() {
    let o = office().await;
    let template = seed(&o, "reject").await;

    // Members are refused; the admin page links to the statistics.
    let (status, _) = stats_page(&o.alice.0, "").await;
    assert_eq!(status, 403);
    let res = o
        .owner
        .0
        .http
        .get(o.owner.0.url("/approvals/admin/templates"))
        .send()
        .await
        .unwrap();
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("href=\"/approvals/admin/stats\""));

    let (status, html) = stats_page(&o.owner.0, "").await;
    assert_eq!(status, 200, "{html}");
    // Per template: three requests, one rejected, two pending (one with
    // Bob, one Bob approved now with Fiona: both overdue); two decisions,
    // after 1 and 2 hours.
    for (name, want) in [
        ("requests", "3"),
        ("pending", "2"),
        ("approved", "0"),
        ("rejected", "1"),
        ("decided", "2"),
        ("median", "1.0"),
        ("p90", "2.0"),
        ("overdue", "2"),
    ] {
        assert_eq!(cell(&html, &template, name), want, "template {name}");
    }
    for (name, want) in [
        ("tasks", "3"),
        ("approved", "1"),
        ("rejected", "1"),
        ("pending", "1"),
        ("median", "1.0"),
        ("p90", "2.0"),
        ("overdue", "1"),
    ] {
        assert_eq!(cell(&html, &o.bob.1, name), want, "Bob {name}");
    }
    assert_eq!(cell(&html, &o.fiona.1, "median"), "–");
    assert_eq!(cell(&html, &o.fiona.1, "overdue"), "1");
    // Eight charts (four measures, by template and by approver), inline.
    assert_eq!(html.matches("<svg").count(), 8, "{html}");
    assert!(html.contains("逾期任務（按審批人）"));

    // A period that holds the requests counts them; one long before does not.
    let (status, html) = stats_page(&o.owner.0, "?from=2000-01-01&to=2999-12-31").await;
    assert_eq!(status, 200);
    assert_eq!(cell(&html, &template, "requests"), "3");
    let (status, html) = stats_page(&o.owner.0, "?from=2000-01-01&to=2000-01-31").await;
    assert_eq!(status, 200);
    assert_eq!(cell(&html, &template, "requests"), "0");
    assert_eq!(cell(&html, &template, "median"), "–");
    assert!(!html.contains("data-testid=\"stats-approver\""));
    // No approver charts without approvers; the template ones stay.
    assert_eq!(html.matches("<svg").count(), 4, "{html}");
    // A reversed period is refused at its field.
    let (status, html) = stats_page(&o.owner.0, "?from=2026-02-01&to=2026-01-01").await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"to-error\""), "{html}");
    o.t.stop().await;
}
