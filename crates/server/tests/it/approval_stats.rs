//! Approval statistics with known data: three requests, two decided by Bob
//! after one and two hours, one left past its deadline; counts, median and
//! p90 time to decision, and overdue tasks per template and approver.

use serde_json::{json, Value};

use crate::approvals::{create_template, decide, expense_design, office, submit, task_of};
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

#[tokio::test]
async fn stats_count_time_to_decision_and_overdue_tasks() {
    let o = office().await;
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
    assert_eq!(decide(&o.bob.0, &tasks[1], "approve").await.0, 200);
    // 32 h after submitting: Bob's third task and Fiona's two are overdue.
    o.t.advance(30 * 3600);

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
