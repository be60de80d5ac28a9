//! The log of robot calls: every request to `/robot/send` and
//! `/robot/sendBySession`, accepted or refused, with when, which robot and
//! group, the caller's address, the message type and DingTalk's answer
//! code; and every attempt Tram made at calling an outgoing robot's server
//! (direction `out`, with the attempt's number and its outcome). It also
//! carries the rate limit: an accepted incoming call is numbered from a
//! counter on the robot's row, in a transaction that holds that row, so two
//! nodes cannot both admit the 21st message of a minute; the limit looks up
//! the one call `limit` numbers back instead of counting the window. Rows
//! older than `bots.log_retention_days` are
//! pruned.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_platform::db::{new_id, Db};
use tram_platform::AppState;

use crate::error::BotResult;

/// The sliding window of the rate limit.
pub const RATE_WINDOW_MS: i64 = 60_000;
/// How often the pruner looks for expired rows.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// One call as a group admin sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RobotCall {
    pub id: String,
    pub robot_id: Option<String>,
    /// The robot's name at the time of the call.
    pub robot_name: Option<String>,
    pub conversation_id: Option<String>,
    /// The caller's address.
    pub ip: String,
    pub msgtype: Option<String>,
    /// DingTalk's answer code: 0 accepted, anything else refused.
    pub errcode: i64,
    pub errmsg: String,
    /// The message it posted.
    pub message_id: Option<String>,
    /// `in`: a client called Tram; `out`: Tram called the robot's server.
    pub direction: String,
    /// For an `out` call: which attempt this was, from 1.
    pub attempt: Option<i64>,
    pub created_at: i64,
}

/// What to record about a call.
#[derive(Debug, Clone, Default)]
pub struct CallRecord<'a> {
    pub robot_id: Option<&'a str>,
    pub robot_name: Option<&'a str>,
    pub conversation_id: Option<&'a str>,
    pub ip: &'a str,
    pub msgtype: Option<&'a str>,
    pub errcode: i64,
    pub errmsg: &'a str,
    /// Tram called the robot's server (not the other way round).
    pub outgoing: bool,
    /// For an outgoing call: which attempt, from 1.
    pub attempt: Option<i64>,
}

/// Records a call (refused ones; accepted ones come from [`admit`]).
pub async fn record(state: &AppState, call: &CallRecord<'_>) -> BotResult<String> {
    let id = new_id();
    insert(
        &mut *state.db.write().acquire().await?,
        &id,
        call,
        None,
        None,
        state.clock.now_ms(),
    )
    .await?;
    Ok(id)
}

async fn insert(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    call: &CallRecord<'_>,
    ordinal: Option<i64>,
    message_id: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = insert_sql(1);
    bind_call(
        sqlx::query(&sql),
        id.to_string(),
        call,
        ordinal,
        message_id,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO robot_calls (id, robot_id, robot_name, conversation_id, ip, msgtype, errcode, errmsg, created_at, direction, attempt, ordinal, message_id) \
         VALUES {}",
        tram_platform::db::value_rows(rows, 13)
    )
}

/// Binds one call's row (13 values) to an insert.
fn bind_call<'q>(
    query: Query<'q>,
    id: String,
    call: &CallRecord<'q>,
    ordinal: Option<i64>,
    message_id: Option<&'q str>,
    now: i64,
) -> Query<'q> {
    query
        .bind(id)
        .bind(call.robot_id)
        .bind(call.robot_name)
        .bind(call.conversation_id)
        .bind(call.ip.chars().take(64).collect::<String>())
        .bind(call.msgtype)
        .bind(call.errcode)
        .bind(call.errmsg.chars().take(200).collect::<String>())
        .bind(now)
        .bind(if call.outgoing { "out" } else { "in" })
        .bind(call.attempt)
        .bind(ordinal)
        .bind(message_id)
}

/// Admits a call under the robot's rate limit: records it as accepted and
/// returns its id, or `None` when `limit` calls were accepted in the last
/// minute (nothing is recorded then; the caller logs the refusal).
pub async fn admit(
    state: &AppState,
    call: &CallRecord<'_>,
    limit: i64,
) -> BotResult<Option<String>> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let admitted = admit_in(&mut tx, call, limit, None, now).await?;
    if admitted.is_some() {
        tx.commit().await?;
    }
    Ok(admitted)
}

/// [`admit`] inside the caller's transaction (the one that stores the
/// message the call posts, whose id it records).
pub async fn admit_in(
    conn: &mut sqlx::AnyConnection,
    call: &CallRecord<'_>,
    limit: i64,
    message_id: Option<&str>,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    let robot_id = call.robot_id.unwrap_or_default();
    // Numbers this call among the robot's accepted calls, and locks the
    // robot's row until commit: calls of one robot queue here, on every node.
    let ordinal: i64 = sqlx::query(
        "UPDATE robots SET last_call_at = $1, accepted_calls = accepted_calls + 1 \
         WHERE id = $2 RETURNING accepted_calls",
    )
    .bind(now)
    .bind(robot_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("accepted_calls")?;
    // Over the limit when the accepted call `limit` places back is still
    // inside the window: one indexed lookup, however high the limit is.
    if ordinal > limit {
        let earlier =
            sqlx::query("SELECT created_at FROM robot_calls WHERE robot_id = $1 AND ordinal = $2")
                .bind(robot_id)
                .bind(ordinal - limit)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(row) = earlier {
            if row.try_get::<i64, _>("created_at")? > now - RATE_WINDOW_MS {
                // The caller rolls the count back with its transaction.
                return Ok(None);
            }
        }
    }
    let id = new_id();
    insert(conn, &id, call, Some(ordinal), message_id, now).await?;
    Ok(Some(id))
}

/// [`admit_in`] for `count` calls of one robot at once (a batch of the
/// webhook's group commit), in order: how many of them, from the first,
/// are admitted, and the first one's ordinal. Calls over the limit are a
/// suffix (a later call looks back at a later call), and their numbers are
/// given back. Records nothing: the caller inserts the admitted calls with
/// [`insert_admitted`].
pub async fn admit_run(
    conn: &mut sqlx::AnyConnection,
    robot_id: &str,
    count: i64,
    limit: i64,
    now: i64,
) -> Result<(i64, i64), sqlx::Error> {
    // Locks the robot's row until commit, as `admit_in` does.
    let last: i64 = sqlx::query(
        "UPDATE robots SET accepted_calls = accepted_calls + $1 WHERE id = $2 RETURNING accepted_calls",
    )
    .bind(count)
    .bind(robot_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("accepted_calls")?;
    let first = last - count + 1;
    // Each call looks back `limit` places: at a call stored earlier (read
    // here), or at one of this batch (accepted now, so inside the window).
    let (low, high) = ((first - limit).max(1), (last - limit).min(first - 1));
    let earlier: std::collections::HashMap<i64, i64> = if low <= high {
        sqlx::query(
            "SELECT ordinal, created_at FROM robot_calls WHERE robot_id = $1 AND ordinal >= $2 AND ordinal <= $3",
        )
        .bind(robot_id)
        .bind(low)
        .bind(high)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("ordinal")?, row.try_get("created_at")?)))
        .collect::<Result<_, sqlx::Error>>()?
    } else {
        Default::default()
    };
    let admitted = (0..count)
        .position(|i| {
            let back = first + i - limit;
            back >= first
                || earlier
                    .get(&back)
                    .is_some_and(|&at| at > now - RATE_WINDOW_MS)
        })
        .map_or(count, |over| over as i64);
    // The calls over the limit give their numbers back; the robot's last
    // call is the last admitted one.
    sqlx::query(
        "UPDATE robots SET accepted_calls = accepted_calls - $1, \
         last_call_at = CASE WHEN $2 > 0 THEN $3 ELSE last_call_at END WHERE id = $4",
    )
    .bind(count - admitted)
    .bind(admitted)
    .bind(now)
    .bind(robot_id)
    .execute(&mut *conn)
    .await?;
    Ok((admitted, first))
}

/// An admitted call to record with others: its log entry, its number
/// among the robot's accepted calls, the message it posted.
pub struct Admitted<'a> {
    pub call: CallRecord<'a>,
    pub ordinal: i64,
    pub message_id: &'a str,
}

/// Inserts the log entries of admitted calls, several rows per statement.
pub async fn insert_admitted(
    conn: &mut sqlx::AnyConnection,
    calls: &[Admitted<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in calls.chunks(64) {
        let sql = insert_sql(chunk.len());
        let mut query = sqlx::query(&sql);
        for admitted in chunk {
            query = bind_call(
                query,
                new_id(),
                &admitted.call,
                Some(admitted.ordinal),
                Some(admitted.message_id),
                now,
            );
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Completes an admitted call: the message it posted, or the refusal that
/// came after all (the group was dissolved meanwhile).
pub async fn finish(
    db: &Db,
    call_id: &str,
    message_id: Option<&str>,
    errcode: i64,
    errmsg: &str,
) -> BotResult<()> {
    finish_in(
        &mut *db.write().acquire().await?,
        call_id,
        message_id,
        errcode,
        errmsg,
    )
    .await?;
    Ok(())
}

/// [`finish`] inside the caller's transaction (the one that stores the
/// message the call brought, so the two are seen together).
pub async fn finish_in(
    conn: &mut sqlx::AnyConnection,
    call_id: &str,
    message_id: Option<&str>,
    errcode: i64,
    errmsg: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE robot_calls SET message_id = $1, errcode = $2, errmsg = $3 WHERE id = $4")
        .bind(message_id)
        .bind(errcode)
        .bind(errmsg)
        .bind(call_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Which calls a group admin asked to see.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CallFilter {
    /// Calls of this robot.
    pub robot_id: Option<String>,
    /// `ok` (accepted), `failed` (refused), or empty for both.
    pub outcome: Option<String>,
    /// Calls answered with this code.
    pub errcode: Option<i64>,
    /// Unix milliseconds, inclusive.
    pub from: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub to: Option<i64>,
    /// Calls older than this id (paging).
    pub before: Option<String>,
    /// At most this many (1-500, default 100).
    pub limit: Option<i64>,
}

/// Calls to the robots of a group, newest first.
pub async fn list(
    db: &Db,
    conversation_id: &str,
    filter: &CallFilter,
) -> BotResult<Vec<RobotCall>> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let outcome = match filter.outcome.as_deref() {
        Some("ok") => 1,
        Some("failed") => 2,
        _ => 0,
    };
    let rows = sqlx::query(
        "SELECT id, robot_id, robot_name, conversation_id, ip, msgtype, errcode, errmsg, message_id, direction, attempt, created_at FROM robot_calls \
         WHERE conversation_id = $1 AND ($2 = '' OR robot_id = $2) \
           AND ($3 = 0 OR ($3 = 1 AND errcode = 0) OR ($3 = 2 AND errcode <> 0)) \
           AND ($4 = 0 OR errcode = $5) \
           AND created_at >= $6 AND created_at < $7 AND ($8 = '' OR id < $8) \
         ORDER BY id DESC LIMIT $9",
    )
    .bind(conversation_id)
    .bind(filter.robot_id.clone().unwrap_or_default())
    .bind(outcome as i64)
    .bind(filter.errcode.is_some() as i64)
    .bind(filter.errcode.unwrap_or_default())
    .bind(filter.from.unwrap_or(0))
    .bind(filter.to.unwrap_or(i64::MAX))
    .bind(filter.before.clone().unwrap_or_default())
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RobotCall {
                id: row.try_get("id")?,
                robot_id: row.try_get("robot_id")?,
                robot_name: row.try_get("robot_name")?,
                conversation_id: row.try_get("conversation_id")?,
                ip: row.try_get("ip")?,
                msgtype: row.try_get("msgtype")?,
                errcode: row.try_get("errcode")?,
                errmsg: row.try_get("errmsg")?,
                message_id: row.try_get("message_id")?,
                direction: row.try_get("direction")?,
                attempt: row.try_get("attempt")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Deletes calls older than the retention period; returns how many.
pub async fn prune(state: &AppState) -> BotResult<u64> {
    let days = state.config.bots.log_retention_days.max(1);
    let cutoff = state.clock.now_ms() - days * 86_400_000;
    let result = sqlx::query("DELETE FROM robot_calls WHERE created_at < $1")
        .bind(cutoff)
        .execute(state.db.write())
        .await?;
    Ok(result.rows_affected())
}

/// Prunes the log now and then every hour until the server stops. Every
/// node may run it: deleting twice deletes nothing more.
pub fn spawn_pruner(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match prune(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "pruned old robot calls"),
                Err(err) => tracing::warn!(error = %err, "could not prune robot calls"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PRUNE_EVERY) => {}
                _ = state.shutdown.wait() => return,
            }
        }
    })
}
