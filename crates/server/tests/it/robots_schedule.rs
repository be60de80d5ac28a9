//! Scheduled and check-in robots over real HTTP with the server's own job
//! runner (and extra runners racing it): the "09:15 every weekday" example
//! posts at 09:15 Hong Kong time on weekdays and not on Saturday, once
//! after a restart, once with runners racing, once after a crash between
//! the post and the job's completion; both missed-run policies after
//! downtime; edit, pause and delete replace the pending run; bad input
//! refused per field with nothing made. (Check-in robots: robots_checkin.rs.)

use reqwest::Method;
use serde_json::{json, Value};
use tram_platform::jobs;

use crate::chat::{group, team, team_with, Team};
use crate::kit::{error_code, Client, TestServer};

const DAY_MS: i64 = 86_400_000;
const HK_OFFSET_MS: i64 = 8 * 3_600_000;

/// Minutes since midnight, Hong Kong time.
fn hk_minutes(ms: i64) -> i64 {
    (ms + HK_OFFSET_MS).rem_euclid(DAY_MS) / 60_000
}

/// 0 = Sunday … 6 = Saturday, Hong Kong time (1970-01-01 was a Thursday).
fn hk_weekday(ms: i64) -> i64 {
    ((ms + HK_OFFSET_MS).div_euclid(DAY_MS) + 4).rem_euclid(7)
}

/// A team whose server's own runner stays out of the way, so the test's
/// runner decides when jobs run.
pub(crate) async fn quiet_team() -> Team {
    team_with(|c| c.jobs.poll_ms = 3_600_000).await
}

/// Waits (up to 5 s) until the robot has posted `n` messages.
pub(crate) async fn wait_for_posts(t: &TestServer, robot_id: &str, n: i64) {
    for _ in 0..50 {
        if robot_posts(t, robot_id).await >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(robot_posts(t, robot_id).await, n);
}

pub(crate) async fn add_schedule(admin: &Client, g: &str, body: Value) -> Value {
    let (status, made) = admin
        .post_json(&format!("/api/v1/conversations/{g}/scheduled-robots"), body)
        .await;
    assert_eq!(status, 200, "{made}");
    made
}

pub(crate) fn cash_report() -> Value {
    json!({ "name": "現金流提醒", "rule": "weekdays", "time": "09:15", "body": "請提交昨日現金流報表" })
}

/// Moves the server clock to `at` (Unix ms; never backwards).
pub(crate) fn advance_to(t: &TestServer, at: i64) {
    let now = t.clock.now_ms();
    if at > now {
        t.advance(((at - now) as u64).div_ceil(1_000));
    }
}

/// Runs every due job now, with a runner of its own (racing the server's).
pub(crate) async fn run_due(t: &TestServer) {
    tram::job_runner().run_due(t.state()).await.unwrap();
}

pub(crate) async fn robot_posts(t: &TestServer, robot_id: &str) -> i64 {
    t.count(&format!(
        "SELECT COUNT(*) FROM messages WHERE robot_id = '{robot_id}'"
    ))
    .await
}

async fn schedule_of(admin: &Client, g: &str, robot_id: &str) -> Value {
    let (status, list) = admin
        .get_json(&format!("/api/v1/conversations/{g}/scheduled-robots"))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["robot_id"] == robot_id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn runs_of(admin: &Client, g: &str, robot_id: &str) -> Vec<Value> {
    let (status, runs) = admin
        .get_json(&format!(
            "/api/v1/conversations/{g}/scheduled-robots/{robot_id}/runs"
        ))
        .await;
    assert_eq!(status, 200, "{runs}");
    runs.as_array().unwrap().clone()
}

async fn pending_runs(t: &TestServer, robot_id: &str) -> i64 {
    t.count(&format!(
        "SELECT COUNT(*) FROM jobs WHERE job_key LIKE 'robot.schedule:{robot_id}:%' AND finished_at IS NULL"
    ))
    .await
}

#[tokio::test]
async fn the_weekday_report_posts_at_0915_hong_kong_on_weekdays_and_not_on_saturday() {
    let Team {
        t,
        alice: (alice, _),
        bob: (_, bob_id),
        ..
    } = quiet_team().await;
    let g = group(&alice, "財務", &[&bob_id]).await;
    let made = add_schedule(&alice, &g, cash_report()).await;
    let robot = made["robot_id"].as_str().unwrap().to_string();
    assert_eq!(made["kind"], "scheduled");
    let mut due = made["next_due"].as_i64().unwrap();
    assert_eq!(pending_runs(&t, &robot).await, 1);

    // A minute before: nothing.
    advance_to(&t, due - 60_000);
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &robot).await, 0);

    let mut posted = 0;
    let mut saw_saturday = false;
    for _ in 0..6 {
        assert_eq!(hk_minutes(due), 9 * 60 + 15, "09:15 Hong Kong time");
        let weekday = hk_weekday(due);
        assert!((1..=5).contains(&weekday), "a weekday, not {weekday}");
        if weekday == 5 {
            // Saturday 09:15 comes and goes without a post.
            let saturday = due + DAY_MS;
            advance_to(&t, due + 1_000);
            run_due(&t).await;
            posted += 1;
            assert_eq!(robot_posts(&t, &robot).await, posted);
            advance_to(&t, saturday + 60_000);
            run_due(&t).await;
            assert_eq!(robot_posts(&t, &robot).await, posted, "nothing on Saturday");
            saw_saturday = true;
        } else {
            advance_to(&t, due + 1_000);
            run_due(&t).await;
            posted += 1;
            assert_eq!(robot_posts(&t, &robot).await, posted);
        }
        let next = schedule_of(&alice, &g, &robot).await["next_due"]
            .as_i64()
            .unwrap();
        assert!(next > due);
        assert_eq!(pending_runs(&t, &robot).await, 1, "one pending run");
        due = next;
    }
    assert!(saw_saturday, "six weekday runs cross a weekend");
    let body = t
        .count(&format!(
            "SELECT COUNT(*) FROM messages WHERE robot_id = '{robot}' AND body = '請提交昨日現金流報表' AND author_name = '現金流提醒'"
        ))
        .await;
    assert_eq!(body, posted);
    let runs = runs_of(&alice, &g, &robot).await;
    assert_eq!(runs.len() as i64, posted);
    assert!(runs.iter().all(|r| r["outcome"] == "posted"));
    t.stop().await;
}

#[tokio::test]
async fn the_servers_own_runner_posts_once_also_with_runners_racing_and_after_a_restart() {
    let Team {
        t,
        alice: (alice, _),
        ..
    } = team().await;
    let g = group(&alice, "Ops", &[]).await;
    let made = add_schedule(&alice, &g, cash_report()).await;
    let robot = made["robot_id"].as_str().unwrap().to_string();
    let due = made["next_due"].as_i64().unwrap();

    // The server's own runner, left alone.
    advance_to(&t, due + 1_000);
    wait_for_posts(&t, &robot, 1).await;

    // The next run with two more runners racing the server's.
    let next = schedule_of(&alice, &g, &robot).await["next_due"]
        .as_i64()
        .unwrap();
    advance_to(&t, next + 1_000);
    let (a, b) = (tram::job_runner(), tram::job_runner());
    let (ra, rb) = tokio::join!(a.run_due(t.state()), b.run_due(t.state()));
    ra.unwrap();
    rb.unwrap();
    wait_for_posts(&t, &robot, 2).await;

    // A restart on the same data: the runner starts again, posts nothing more.
    let t = t.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &robot).await, 2);
    assert_eq!(pending_runs(&t, &robot).await, 1);
    assert_eq!(runs_of(&alice, &g, &robot).await.len(), 2);
    t.stop().await;
}

#[tokio::test]
async fn a_run_that_crashed_after_posting_is_taken_over_without_a_second_post() {
    let Team {
        t,
        alice: (alice, _),
        ..
    } = quiet_team().await;
    let g = group(&alice, "Crash", &[]).await;
    let made = add_schedule(&alice, &g, cash_report()).await;
    let robot = made["robot_id"].as_str().unwrap().to_string();
    let next = made["next_due"].as_i64().unwrap();
    // A runner takes the run, posts, and dies before completing it.
    advance_to(&t, next + 1_000);
    let state = t.state();
    let lease_ms = state.config.jobs.lease_secs * 1_000;
    let job = jobs::claim(&state.db, state.clock.now_ms(), lease_ms)
        .await
        .unwrap()
        .expect("the run is due");
    assert_eq!(job.key, format!("robot.schedule:{robot}:{next}"));
    let author = tram_chat::messages::RobotAuthor {
        conversation_id: g.clone(),
        robot_id: robot.clone(),
        name: "現金流提醒".into(),
        avatar_url: None,
    };
    let new = tram_chat::messages::NewMessage {
        kind: tram_chat::messages::MessageKind::Text,
        body: "請提交昨日現金流報表".into(),
        mentions: vec![],
        mention_all: false,
        robot_mentions: vec![],
        reply_to: None,
        client_id: Some(job.key.clone()),
    };
    tram_chat::messages::send_as_robot(state, &author, new, None)
        .await
        .unwrap();
    assert_eq!(robot_posts(&t, &robot).await, 1);
    // While the lease holds, no one else runs it.
    run_due(&t).await;
    assert_eq!(runs_of(&alice, &g, &robot).await.len(), 0);
    // The lease runs out; another runner takes the job: still one post.
    t.advance(state.config.jobs.lease_secs as u64 + 1);
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &robot).await, 1);
    let runs = runs_of(&alice, &g, &robot).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["due_at"], next);
    assert_eq!(runs[0]["outcome"], "posted");
    assert_eq!(pending_runs(&t, &robot).await, 1);
    t.stop().await;
}

#[tokio::test]
async fn missed_runs_post_once_late_or_are_skipped_after_downtime() {
    let Team {
        t,
        alice: (alice, _),
        ..
    } = quiet_team().await;
    let g = group(&alice, "Downtime", &[]).await;
    let late = add_schedule(
        &alice,
        &g,
        json!({ "name": "Late", "rule": "daily", "time": "08:00", "body": "late one", "missed": "late" }),
    )
    .await;
    let skip = add_schedule(
        &alice,
        &g,
        json!({ "name": "Skip", "rule": "daily", "time": "08:00", "body": "skipped one", "missed": "skip" }),
    )
    .await;
    let (late_id, skip_id) = (
        late["robot_id"].as_str().unwrap().to_string(),
        skip["robot_id"].as_str().unwrap().to_string(),
    );
    let due = late["next_due"].as_i64().unwrap();
    // The server is "down" for three days and an hour: three runs missed.
    advance_to(&t, due + 3 * DAY_MS + 3_600_000);
    run_due(&t).await;
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &late_id).await, 1, "once, late");
    assert_eq!(robot_posts(&t, &skip_id).await, 0, "skipped");
    let now = t.clock.now_ms();
    for (id, outcome) in [(&late_id, "late"), (&skip_id, "skipped")] {
        let runs = runs_of(&alice, &g, id).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0]["outcome"], outcome);
        assert_eq!(runs[0]["due_at"], due);
        let next = schedule_of(&alice, &g, id).await["next_due"]
            .as_i64()
            .unwrap();
        assert!(next > now, "the next run is in the future");
        assert_eq!(hk_minutes(next), 8 * 60);
        assert_eq!(pending_runs(&t, id).await, 1);
    }
    // Within the grace period a run is on time.
    let next = schedule_of(&alice, &g, &skip_id).await["next_due"]
        .as_i64()
        .unwrap();
    advance_to(&t, next + 5 * 60_000);
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &skip_id).await, 1);
    assert_eq!(runs_of(&alice, &g, &skip_id).await[0]["outcome"], "posted");
    t.stop().await;
}

#[tokio::test]
async fn edit_pause_resume_and_delete_replace_the_pending_run() {
    let Team {
        t,
        alice: (alice, _),
        ..
    } = quiet_team().await;
    let g = group(&alice, "Changes", &[]).await;
    let made = add_schedule(&alice, &g, cash_report()).await;
    let robot = made["robot_id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/conversations/{g}/scheduled-robots/{robot}");

    let mut edited = cash_report();
    edited["time"] = json!("17:30");
    edited["rule"] = json!("days");
    edited["days"] = json!(["6"]);
    let (status, changed) = alice.call(Method::PUT, &base, edited).await;
    assert_eq!(status, 200, "{changed}");
    let due = changed["next_due"].as_i64().unwrap();
    assert_eq!(hk_minutes(due), 17 * 60 + 30);
    assert_eq!(hk_weekday(due), 6);
    assert_eq!(pending_runs(&t, &robot).await, 1);
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM jobs WHERE job_key = 'robot.schedule:{robot}:{due}'"
        ))
        .await,
        1
    );

    let (status, paused) = alice
        .call(
            Method::PUT,
            &format!("{base}/paused"),
            json!({ "paused": true }),
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["paused"], true);
    assert_eq!(pending_runs(&t, &robot).await, 0);
    advance_to(&t, due + 1_000);
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &robot).await, 0, "paused: no post");

    let (status, resumed) = alice
        .call(
            Method::PUT,
            &format!("{base}/paused"),
            json!({ "paused": "false" }),
        )
        .await;
    assert_eq!(status, 200, "{resumed}");
    assert!(resumed["next_due"].as_i64().unwrap() > t.clock.now_ms());
    assert_eq!(pending_runs(&t, &robot).await, 1);

    // Stopped through the robots API: runs are skipped, the schedule goes on.
    let (status, _) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{g}/robots/{robot}/enabled"),
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(status, 200);
    let due = resumed["next_due"].as_i64().unwrap();
    advance_to(&t, due + 1_000);
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &robot).await, 0);
    assert_eq!(runs_of(&alice, &g, &robot).await[0]["outcome"], "skipped");
    assert_eq!(pending_runs(&t, &robot).await, 1);

    let (status, _) = alice.call(Method::DELETE, &base, Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(pending_runs(&t, &robot).await, 0);
    assert_eq!(
        t.count(&format!("SELECT COUNT(*) FROM robots WHERE id = '{robot}'"))
            .await,
        0
    );
    t.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_per_field_and_nothing_is_made() {
    let Team {
        t,
        owner,
        alice: (alice, _),
        bob: (bob, bob_id),
    } = team().await;
    let g = group(&alice, "Refusals", &[&bob_id]).await;
    let path = format!("/api/v1/conversations/{g}/scheduled-robots");
    let cases = [
        (
            json!({ "name": "x", "rule": "cron", "cron": "61 9 * * *", "body": "hi" }),
            "cron",
        ),
        (
            json!({ "name": "x", "rule": "cron", "cron": "* * *", "body": "hi" }),
            "cron",
        ),
        (
            json!({ "name": "x", "rule": "daily", "time": "25:00", "body": "hi" }),
            "time",
        ),
        (
            json!({ "name": "x", "rule": "days", "time": "09:00", "days": [], "body": "hi" }),
            "days",
        ),
        (
            json!({ "name": "x", "rule": "daily", "time": "09:00", "body": "  " }),
            "body",
        ),
        (
            json!({ "name": "", "rule": "daily", "time": "09:00", "body": "hi" }),
            "name",
        ),
        (
            json!({ "name": "x", "rule": "daily", "time": "09:00", "body": "hi", "missed": "twice" }),
            "missed",
        ),
        (
            json!({ "name": "x", "rule": "daily", "time": "09:00", "body": "hi", "mentions": ["nobody"] }),
            "mentions",
        ),
        (
            json!({ "name": "x", "rule": "sometimes", "body": "hi" }),
            "rule",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = alice.post_json(&path, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(error_code(&answer), "invalid_schedule");
        assert!(
            answer["error"]["fields"][field].is_string(),
            "{field} explained in {answer}"
        );
    }
    // Several mistakes at once: each field says what is wrong.
    let (status, answer) = alice
        .post_json(
            &path,
            json!({ "name": "x", "rule": "daily", "time": "25:00", "body": "" }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(answer["error"]["fields"]["time"].is_string());
    assert!(answer["error"]["fields"]["body"].is_string());
    // The cron message says what is wrong.
    let (_, answer) = alice
        .post_json(
            &path,
            json!({ "name": "x", "rule": "cron", "cron": "0 25 * * *", "body": "hi" }),
        )
        .await;
    assert!(answer["error"]["fields"]["cron"]
        .as_str()
        .unwrap()
        .contains("hour: 25 is outside 0-23"));
    // A member who is not an admin, and a stranger.
    let (status, _) = bob.post_json(&path, cash_report()).await;
    assert_eq!(status, 403);
    let (status, _) = owner.post_json(&path, cash_report()).await;
    assert_eq!(status, 404);
    // The preview refuses the same way.
    let (status, answer) = alice
        .post_json(
            &format!("{path}/preview"),
            json!({ "rule": "daily", "time": "24:00" }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(answer["error"]["fields"]["time"].is_string());
    assert_eq!(t.count("SELECT COUNT(*) FROM robot_schedules").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM robots").await, 0);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM jobs WHERE kind = 'robot.schedule'")
            .await,
        0
    );
    t.stop().await;
}

#[tokio::test]
async fn the_preview_shows_the_next_three_runs_in_hong_kong_time() {
    let Team {
        t,
        alice: (alice, _),
        ..
    } = team().await;
    let g = group(&alice, "Preview", &[]).await;
    let (status, preview) = alice
        .post_json(
            &format!("/api/v1/conversations/{g}/scheduled-robots/preview"),
            json!({ "rule": "cron", "cron": "15 9 * * 1-5" }),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["time_zone"], "Asia/Hong_Kong");
    let runs: Vec<i64> = preview["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_i64().unwrap())
        .collect();
    assert_eq!(runs.len(), 3);
    assert!(runs.windows(2).all(|w| w[0] < w[1]));
    for (run, label) in runs.iter().zip(preview["labels"].as_array().unwrap()) {
        assert_eq!(hk_minutes(*run), 9 * 60 + 15);
        assert!((1..=5).contains(&hk_weekday(*run)));
        assert!(label.as_str().unwrap().ends_with("09:15"), "{label}");
    }
    // The API is described.
    let (_, doc) = t.client().get_json("/api/openapi.json").await;
    for path in [
        "/api/v1/conversations/{id}/scheduled-robots",
        "/api/v1/conversations/{id}/scheduled-robots/preview",
        "/api/v1/conversations/{id}/checkins/{robot_id}/{due}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    t.stop().await;
}
