//! The shell: health check, the OpenAPI document and its browser, static
//! files, security headers, the development outbox.

use crate::kit::TestServer;

#[tokio::test]
async fn health_api_docs_and_headers() {
    let t = TestServer::start().await;
    let c = t.client();
    let res = c.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));

    let (status, doc) = c.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/codes",
        "/api/v1/register",
        "/api/v1/login",
        "/api/v1/login/2fa",
        "/api/v1/qr/tickets",
        "/api/v1/qr/tickets/{id}",
        "/api/v1/qr/scan/{token}",
        "/api/v1/2fa/totp/enroll",
        "/api/v1/devices",
        "/api/v1/org/members",
        "/api/v1/org/audit",
        "/healthz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let docs = c.get("/api/docs").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("/static/swagger-ui-bundle.js"));
    assert_eq!(c.get("/static/swagger-ui-bundle.js").await.status(), 200);
    assert_eq!(c.get("/static/htmx.min.js").await.status(), 200);
    assert_eq!(c.get("/static/nope.js").await.status(), 404);
    t.stop().await;
}

#[tokio::test]
async fn the_outbox_is_for_server_admins_in_development_mode_only() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let staff = t
        .register_email("staff@example.com", "Staff", Some("Other"), None)
        .await;
    let (status, entries) = owner
        .get_json("/api/v1/dev/outbox?to=staff@example.com")
        .await;
    assert_eq!(status, 200);
    assert!(entries[0]["body"].as_str().unwrap().contains("驗證碼"));
    assert_eq!(staff.get_json("/api/v1/dev/outbox").await.0, 403);
    t.stop().await;

    let prod = TestServer::start_with(|c| c.dev_mode = false).await;
    let owner = prod.setup().await;
    assert_eq!(owner.get_json("/api/v1/dev/outbox").await.0, 404);
    prod.stop().await;
}

#[tokio::test]
async fn every_script_a_page_loads_is_served() {
    let t = TestServer::start().await;
    t.setup().await;
    let c = t.client();
    let html = c.get("/login?mode=qr").await.text().await.unwrap();
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|src| src.starts_with("/static/"))
        .collect();
    assert!(scripts.contains(&"/static/qr-login.js"), "{scripts:?}");
    for src in scripts {
        let res = c.get(src).await;
        assert_eq!(res.status(), 200, "{src}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript"),
            "{src}"
        );
    }
    t.stop().await;
}

/// A batched transaction's queued writes run in order before its next
/// read and before it commits, with arguments kept apart per statement;
/// a failing statement in a batch, or a transaction dropped before its
/// commit, leaves nothing behind and the writer free.
#[tokio::test]
async fn batched_writes_run_in_order_and_all_or_nothing() {
    use sqlx::Row;
    use tram_platform::args;
    use tram_platform::db::new_id;
    let t = TestServer::start().await;
    let db = &t.state().db;
    let key = |n: i64| format!("batch-test:{}:{n}", new_id());
    let (first, second) = (key(1), key(2));
    let mut tx = db.begin_batched().await.unwrap();
    let insert = "INSERT INTO jobs (id, kind, job_key, payload, run_at, attempts, max_attempts, retry_base_ms, created_at) \
                  VALUES ($1, 'batch.test', $2, '{}', $3, 0, 1, 1000, $3)";
    tx.push(insert, args![new_id(), first.as_str(), 5_i64]);
    tx.push(insert, args![new_id(), second.as_str(), 7_i64]);
    // A later statement sees the earlier ones, and its own $1 is its own.
    tx.push(
        "UPDATE jobs SET run_at = run_at + $1 WHERE job_key = $2",
        args![100_i64, second.as_str()],
    );
    let seen: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(run_at), 0) AS BIGINT) AS n FROM jobs WHERE job_key IN ($1, $2)",
    )
    .bind(&first)
    .bind(&second)
    .fetch_one(tx.conn().await.unwrap())
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(
        seen,
        5 + 107,
        "the queued writes ran, in order, before the read"
    );
    tx.push(
        "UPDATE jobs SET attempts = $1 WHERE job_key = $2",
        args![3_i64, first.as_str()],
    );
    tx.commit().await.unwrap();
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM jobs WHERE job_key = '{first}' AND attempts = 3"
        ))
        .await,
        1,
        "the write queued last went out with the commit"
    );

    // The same key twice breaks the unique index: nothing of the batch stays.
    let third = key(3);
    let mut tx = db.begin_batched().await.unwrap();
    tx.push(insert, args![new_id(), third.as_str(), 1_i64]);
    tx.push(insert, args![new_id(), third.as_str(), 2_i64]);
    assert!(
        tx.commit().await.is_err(),
        "a duplicate key fails the batch"
    );
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM jobs WHERE job_key = '{third}'"
        ))
        .await,
        0,
        "nothing of a failed batch is kept"
    );

    // Dropped after its writes went out, before commit: undone, and the
    // writer is free for the next transaction.
    let fourth = key(4);
    let mut tx = db.begin_batched().await.unwrap();
    tx.push(insert, args![new_id(), fourth.as_str(), 1_i64]);
    tx.flush().await.unwrap();
    drop(tx);
    let fifth = key(5);
    let mut tx = db.begin_batched().await.unwrap();
    tx.push(insert, args![new_id(), fifth.as_str(), 1_i64]);
    tx.commit().await.unwrap();
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM jobs WHERE job_key IN ('{fourth}', '{fifth}')"
        ))
        .await,
        1,
        "the dropped transaction left nothing; the next one committed"
    );
    t.stop().await;
}

/// On the writer lane (SQLite: its own connection, called directly) a
/// batched transaction behaves as anywhere else: in order, reading its own
/// writes, all or nothing, a duplicate key reported as one, and a dropped
/// transaction undone with the writer free again.
#[tokio::test]
async fn batched_writes_on_the_writer_lane_behave_the_same() {
    use tram_platform::args;
    use tram_platform::db::new_id;
    let t = TestServer::start().await;
    let db = t.state().db.clone();
    let run = format!("lane-test:{}", new_id());
    let lane_db = db.clone();
    let prefix = run.clone();
    let (seen, duplicate_is_unique) = db
        .in_writer_lane(async move {
            let db = lane_db;
            let insert = "INSERT INTO jobs (id, kind, job_key, payload, run_at, attempts, max_attempts, retry_base_ms, created_at) \
                          VALUES ($1, 'lane.test', $2, '{}', $3, 0, 1, 1000, $3)";
            let mut tx = db.begin_batched().await.unwrap();
            tx.push(insert, args![new_id(), format!("{prefix}:1"), 5_i64]);
            tx.push(insert, args![new_id(), format!("{prefix}:2"), 7_i64]);
            let reply = tx
                .query(
                    "SELECT job_key, run_at FROM jobs WHERE job_key LIKE $1 ORDER BY run_at",
                    args![format!("{prefix}:%")],
                )
                .await
                .unwrap();
            let seen: Vec<(String, i64)> = reply
                .rows
                .iter()
                .map(|r| (r.try_get("job_key").unwrap(), r.try_get("run_at").unwrap()))
                .collect();
            tx.commit().await.unwrap();

            let mut tx = db.begin_batched().await.unwrap();
            tx.push(insert, args![new_id(), format!("{prefix}:3"), 1_i64]);
            tx.push(insert, args![new_id(), format!("{prefix}:3"), 2_i64]);
            let failed = tx.commit().await.unwrap_err();

            let mut tx = db.begin_batched().await.unwrap();
            tx.push(insert, args![new_id(), format!("{prefix}:4"), 1_i64]);
            tx.flush().await.unwrap();
            drop(tx);
            let mut tx = db.begin_batched().await.unwrap();
            tx.push(insert, args![new_id(), format!("{prefix}:5"), 1_i64]);
            tx.commit().await.unwrap();
            (seen, tram_platform::db::is_unique_violation(&failed))
        })
        .await;
    assert_eq!(
        seen,
        vec![(format!("{run}:1"), 5), (format!("{run}:2"), 7)],
        "the transaction read its own queued writes, in order"
    );
    assert!(duplicate_is_unique, "a duplicate key is reported as one");
    let keys: Vec<String> = sqlx::query_scalar::<_, String>(
        "SELECT job_key FROM jobs WHERE job_key LIKE $1 ORDER BY job_key",
    )
    .bind(format!("{run}:%"))
    .fetch_all(db.read())
    .await
    .unwrap();
    assert_eq!(
        keys,
        vec![format!("{run}:1"), format!("{run}:2"), format!("{run}:5")],
        "the failed and the dropped transactions left nothing"
    );
    t.stop().await;
}

/// A short read (`Db::read_rows`: on SQLite a direct connection on the
/// caller's thread) answers as a read through the pool does: the same
/// values and nulls, nothing for a missing key, an error for a bad
/// statement, and at once what a transaction on the writer lane just
/// committed.
#[tokio::test]
async fn short_reads_answer_as_the_pool_does() {
    use tram_platform::args;
    use tram_platform::db::new_id;
    let t = TestServer::start().await;
    let db = t.state().db.clone();
    let (id, key) = (new_id(), format!("short-read:{}", new_id()));
    let lane_db = db.clone();
    let (lane_id, lane_key) = (id.clone(), key.clone());
    db.in_writer_lane(async move {
        let mut tx = lane_db.begin_batched().await.unwrap();
        tx.push(
            "INSERT INTO jobs (id, kind, job_key, payload, run_at, attempts, max_attempts, retry_base_ms, created_at, last_error) \
             VALUES ($1, 'read.test', $2, '{\"a\":1}', 4102444800000, 0, 3, 1000, 42, NULL)",
            args![lane_id.as_str(), lane_key.as_str()],
        );
        tx.commit().await.unwrap();
    })
    .await;
    let sql =
        "SELECT id, job_key, payload, run_at, max_attempts, last_error FROM jobs WHERE id = $1";
    let direct = db.read_row(sql, args![id.as_str()]).await.unwrap();
    let pooled = db.pooled_rows(sql, args![id.as_str()]).await.unwrap();
    let direct = direct.expect("the row committed a moment ago is read");
    assert_eq!(pooled.len(), 1);
    for row in [&direct, &pooled[0]] {
        assert_eq!(row.try_get::<String>("job_key").unwrap(), key);
        assert_eq!(row.try_get::<String>("payload").unwrap(), "{\"a\":1}");
        // Due in 2100: the job runner leaves it alone.
        assert_eq!(row.try_get::<i64>("run_at").unwrap(), 4_102_444_800_000);
        assert_eq!(row.try_get::<i64>("max_attempts").unwrap(), 3);
        assert_eq!(row.try_get::<Option<String>>("last_error").unwrap(), None);
        assert!(
            row.try_get::<i64>("job_key").is_err(),
            "text is not read as a number"
        );
    }
    assert!(db
        .read_row(sql, args!["no-such-job"])
        .await
        .unwrap()
        .is_none());
    let err = db
        .read_rows("SELECT some_column FROM no_such_table", args![])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no_such_table"),
        "the error names the problem: {err}"
    );
    // Writing is refused on a short read (SQLite: the direct readers are
    // query-only; PostgreSQL: the statement runs, so only SQLite is held
    // to it).
    if db.backend() == tram_platform::db::Backend::Sqlite {
        assert!(db
            .read_rows("DELETE FROM jobs WHERE id = $1", args![id.as_str()])
            .await
            .is_err());
        assert!(db
            .read_row(sql, args![id.as_str()])
            .await
            .unwrap()
            .is_some());
    }
    t.stop().await;
}
