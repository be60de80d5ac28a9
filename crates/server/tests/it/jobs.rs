//! Durable jobs: run once when due, once with two runners racing, again
//! after a runner dies holding one, retried with backoff, kept as failed
//! after the last attempt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use tram_platform::jobs::{self, JobState, NewJob, Runner};

use crate::kit::TestServer;

/// A runner whose "count" jobs add one to a counter, and whose "flaky"
/// jobs fail until their third attempt.
fn counting_runner(count: Arc<AtomicUsize>) -> Runner {
    let flaky = count.clone();
    Runner::new()
        .handle("test.count", move |_state, _job| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .handle("test.flaky", move |_state, job| {
            let count = flaky.clone();
            async move {
                if job.attempt < 3 {
                    return Err(format!("attempt {} refused", job.attempt));
                }
                count.fetch_add(100, Ordering::SeqCst);
                Ok(())
            }
        })
}

/// A server whose own runner stays out of the way (it knows none of the
/// test's kinds and would fail them).
async fn without_poller() -> TestServer {
    TestServer::start_with(|c| c.jobs.poll_ms = 3_600_000).await
}

#[tokio::test]
async fn a_due_job_runs_once_even_with_two_runners_racing() {
    let t = without_poller().await;
    let state = t.state();
    let now = state.clock.now_ms();
    // Far enough ahead that the server's own poller never sees them.
    let due = now + 3_600_000;
    for n in 0..20 {
        let job = NewJob::new("test.count", format!("test:{n}"), json!({ "n": n }), due);
        assert!(jobs::enqueue(&state.db, &job, now).await.unwrap());
    }
    // The same key again is ignored.
    let again = NewJob::new("test.count", "test:0", json!({}), due);
    assert!(!jobs::enqueue(&state.db, &again, now).await.unwrap());

    let count = Arc::new(AtomicUsize::new(0));
    let (a, b) = (
        counting_runner(count.clone()),
        counting_runner(count.clone()),
    );
    // Not due yet: nothing runs.
    assert_eq!(a.run_due(state).await.unwrap(), 0);
    t.advance(3_600);
    let (ran_a, ran_b) = tokio::join!(a.run_due(state), b.run_due(state));
    assert_eq!(ran_a.unwrap() + ran_b.unwrap(), 20);
    assert_eq!(count.load(Ordering::SeqCst), 20);
    let status = jobs::status(&state.db, "test:7", state.clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, JobState::Done);
    assert_eq!(status.attempts, 1);
    // Nothing is left to run.
    assert_eq!(a.run_due(state).await.unwrap(), 0);
    t.server.stop().await;
}

/// A runner claims due jobs several at a time and runs them in the order
/// they fell due. A batch's jobs start only while half the lease is left:
/// those not started by then are handed back (their attempt not counted)
/// and taken again under a new lease. A failure in a batch leaves the
/// others done.
#[tokio::test]
async fn jobs_are_claimed_in_batches_run_in_order_and_handed_back_when_the_lease_runs_short() {
    let t = without_poller().await;
    let state = t.state();
    let now = state.clock.now_ms();
    let due = now + 3_600_000;
    for n in 0..6_i64 {
        let job = NewJob::new(
            "test.slow",
            format!("slow:{n}"),
            json!({ "n": n }),
            due - 1_000 + n,
        );
        assert!(jobs::enqueue(&state.db, &job, now).await.unwrap());
    }
    let fails = NewJob::new("test.fails", "fails:0", json!({}), due - 2_000);
    assert!(jobs::enqueue(&state.db, &fails, now).await.unwrap());
    t.advance(3_600);

    // Each slow job takes 20 of the lease's 60 seconds: two run under a
    // lease (after them less than half is left), the rest are handed back.
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, clock) = (order.clone(), t.clock.clone());
    let runner = Runner::new()
        .handle("test.slow", move |_state, job| {
            let (seen, clock) = (seen.clone(), clock.clone());
            async move {
                seen.lock().unwrap().push((
                    job.payload["n"].as_i64().unwrap(),
                    job.attempt,
                    job.lease.clone(),
                ));
                clock.advance(std::time::Duration::from_secs(20));
                Ok(())
            }
        })
        .handle("test.fails", |_state, _job| async {
            Err("refused".to_string())
        });
    assert_eq!(runner.run_due(state).await.unwrap(), 7);
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order
            .iter()
            .map(|(n, attempt, _)| (*n, *attempt))
            .collect::<Vec<_>>(),
        (0..6).map(|n| (n, 1)).collect::<Vec<_>>(),
        "in order, each on its first attempt"
    );
    let leases: Vec<&str> = order.iter().map(|(_, _, lease)| lease.as_str()).collect();
    assert!(
        leases[0] == leases[1] && leases[2] == leases[3] && leases[4] == leases[5],
        "two a lease: {leases:?}"
    );
    assert!(
        leases[1] != leases[2] && leases[3] != leases[4] && leases[1] != leases[4],
        "the rest handed back and claimed again: {leases:?}"
    );
    for n in 0..6 {
        let status = jobs::status(&state.db, &format!("slow:{n}"), state.clock.now_ms())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (status.state, status.attempts),
            (JobState::Done, 1),
            "slow:{n}"
        );
    }
    let status = jobs::status(&state.db, "fails:0", state.clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (status.state, status.last_error.as_deref()),
        (JobState::Failed, Some("refused"))
    );

    // Up to the batch size at once, earliest first.
    let later = state.clock.now_ms() + 3_600_000;
    for n in 0..20_i64 {
        let job = NewJob::new(
            "test.count",
            format!("many:{n}"),
            json!({}),
            later + 100 - n,
        );
        assert!(jobs::enqueue(&state.db, &job, later).await.unwrap());
    }
    let batch = jobs::claim_some(&state.db, later + 1_000, 60_000, 16)
        .await
        .unwrap();
    let keys: Vec<&str> = batch.iter().map(|j| j.key.as_str()).collect();
    let expected: Vec<String> = (4..20).rev().map(|n| format!("many:{n}")).collect();
    assert_eq!(
        keys,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    t.server.stop().await;
}

/// A server that is stopping finishes the job in hand and hands back the
/// rest of its batch at once (another node, or this one after its
/// restart, takes them without waiting for the lease to run out).
#[tokio::test]
async fn a_stopping_runner_finishes_the_job_in_hand_and_hands_back_the_rest() {
    let t = without_poller().await;
    let state = t.state();
    let now = state.clock.now_ms();
    let due = now + 3_600_000;
    for n in 0..5_i64 {
        let job = NewJob::new("test.stop", format!("stop:{n}"), json!({}), due + n);
        assert!(jobs::enqueue(&state.db, &job, now).await.unwrap());
    }
    t.advance(3_600);
    let runner = Runner::new().handle(
        "test.stop",
        |state: tram_platform::AppState, _job| async move {
            // The server is told to stop while this job runs.
            state.shutdown.trigger();
            Ok(())
        },
    );
    assert_eq!(runner.run_due(state).await.unwrap(), 1);
    let at = state.clock.now_ms();
    let first = jobs::status(&state.db, "stop:0", at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.state, first.attempts), (JobState::Done, 1));
    for n in 1..5 {
        let status = jobs::status(&state.db, &format!("stop:{n}"), at)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (status.state, status.attempts),
            (JobState::Pending, 0),
            "stop:{n} handed back"
        );
    }
    // Taken at once by the next runner, lease or no lease.
    let next = jobs::claim_some(&state.db, at, 60_000, 16).await.unwrap();
    assert_eq!(next.len(), 4);
    t.server.stop().await;
}

#[tokio::test]
async fn a_job_held_by_a_dead_runner_is_taken_over_after_its_lease() {
    let t = without_poller().await;
    let state = t.state();
    let now = state.clock.now_ms() + 3_600_000;
    t.advance(3_600);
    let job = NewJob::new("test.count", "test:lease", json!({}), now);
    jobs::enqueue(&state.db, &job, now).await.unwrap();

    // A runner claims it and dies before finishing.
    let held = jobs::claim(&state.db, now, 60_000).await.unwrap().unwrap();
    assert_eq!(held.attempt, 1);
    // While the lease holds, no one else takes it.
    assert!(jobs::claim(&state.db, now + 59_000, 60_000)
        .await
        .unwrap()
        .is_none());
    let status = jobs::status(&state.db, "test:lease", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, JobState::Running);

    // After it, the job is taken again.
    t.advance(61);
    let count = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        counting_runner(count.clone()).run_due(state).await.unwrap(),
        1
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // The dead runner's late completion no longer counts.
    let mut tx = state.db.begin().await.unwrap();
    assert_eq!(
        jobs::complete_in(&mut tx, &held, state.clock.now_ms()).await,
        Err(jobs::LeaseLost)
    );
    tx.rollback().await.unwrap();
    t.server.stop().await;
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_given_up() {
    let t = without_poller().await;
    let state = t.state();
    let now = state.clock.now_ms() + 3_600_000;
    t.advance(3_600);
    let count = Arc::new(AtomicUsize::new(0));
    let runner = counting_runner(count.clone());

    // Succeeds on its third attempt, 10 s then 20 s after the failures.
    let flaky = NewJob::new("test.flaky", "test:flaky", json!({}), now).retried(3, 10_000);
    jobs::enqueue(&state.db, &flaky, now).await.unwrap();
    assert_eq!(runner.run_due(state).await.unwrap(), 1);
    let status = jobs::status(&state.db, "test:flaky", state.clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, JobState::Pending);
    assert_eq!(status.last_error.as_deref(), Some("attempt 1 refused"));
    assert!(status.run_at >= state.clock.now_ms() + 9_000);
    // Not before its backoff.
    t.advance(5);
    assert_eq!(runner.run_due(state).await.unwrap(), 0);
    t.advance(6);
    assert_eq!(runner.run_due(state).await.unwrap(), 1);
    t.advance(21);
    assert_eq!(runner.run_due(state).await.unwrap(), 1);
    assert_eq!(count.load(Ordering::SeqCst), 100);
    let status = jobs::status(&state.db, "test:flaky", state.clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status.state, status.attempts), (JobState::Done, 3));

    // Two attempts are not enough: kept as failed with the last error.
    let doomed =
        NewJob::new("test.flaky", "test:doomed", json!({}), state.clock.now_ms()).retried(2, 1_000);
    jobs::enqueue(&state.db, &doomed, state.clock.now_ms())
        .await
        .unwrap();
    runner.run_due(state).await.unwrap();
    t.advance(2);
    runner.run_due(state).await.unwrap();
    let status = jobs::status(&state.db, "test:doomed", state.clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, JobState::Failed);
    assert_eq!(status.last_error.as_deref(), Some("attempt 2 refused"));

    // A job no handler knows fails rather than vanishing.
    let unknown = NewJob::new(
        "test.nobody",
        "test:unknown",
        json!({}),
        state.clock.now_ms(),
    );
    jobs::enqueue(&state.db, &unknown, state.clock.now_ms())
        .await
        .unwrap();
    runner.run_due(state).await.unwrap();
    let status = jobs::status(&state.db, "test:unknown", state.clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, JobState::Failed);
    t.server.stop().await;
}

#[tokio::test]
async fn pending_jobs_can_be_cancelled_by_key_prefix() {
    let t = without_poller().await;
    let state = t.state();
    let now = state.clock.now_ms();
    let later = now + 3_600_000;
    for key in ["sched:a:1", "sched:a:2", "sched:ab:1", "sched:b:1"] {
        jobs::enqueue(
            &state.db,
            &NewJob::new("test.count", key, json!({}), later),
            now,
        )
        .await
        .unwrap();
    }
    let mut tx = state.db.begin().await.unwrap();
    assert_eq!(
        jobs::cancel_pending(&mut tx, "sched:a:", now)
            .await
            .unwrap(),
        2
    );
    tx.commit().await.unwrap();
    let left: Vec<String> = jobs::list(&state.db, "sched:", 10, now)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&"sched:ab:1".to_string()) && left.contains(&"sched:b:1".to_string()));
    t.server.stop().await;
}

#[tokio::test]
async fn mentioning_a_robot_enqueues_one_job_with_the_message() {
    use crate::chat::{group, say, team_with};
    use crate::robots::add_robot;
    let team = team_with(|c| c.jobs.poll_ms = 3_600_000).await;
    let (alice, _) = &team.alice;
    let bob_id = &team.bob.1;
    let ours = group(alice, "Finance", &[bob_id]).await;
    let theirs = group(alice, "Other", &[bob_id]).await;
    let robot = add_robot(alice, &ours, json!({ "name": "Helper", "signing": true })).await;
    let stranger = add_robot(
        alice,
        &theirs,
        json!({ "name": "Stranger", "signing": true }),
    )
    .await;

    let body = json!({
        "body": "@Helper 上季營收是多少?",
        "robot_mentions": [robot.id, stranger.id],
        "client_id": "ask-1",
    });
    let first = say(alice, &ours, body.clone()).await;
    // A retry of the same send stores nothing new and enqueues nothing new.
    let again = say(alice, &ours, body).await;
    assert_eq!(first["id"], again["id"]);

    let state = team.t.state();
    let now = state.clock.now_ms();
    // One job per robot named (the handler ignores another group's robot).
    let message_id = first["id"].as_str().unwrap();
    let mut keys: Vec<String> = jobs::list(&state.db, "robot.mention:", 10, now)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.key)
        .collect();
    keys.sort();
    let mut expected = vec![
        format!("robot.mention:{message_id}:{}", robot.id),
        format!("robot.mention:{message_id}:{}", stranger.id),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    // A message that mentions no robot enqueues nothing.
    say(alice, &ours, json!({ "body": "thanks" })).await;
    assert_eq!(
        jobs::list(&state.db, "robot.mention:", 10, now)
            .await
            .unwrap()
            .len(),
        2
    );
    team.t.server.stop().await;
}
