//! Robot posts under load: a group commit. Every accepted webhook call
//! (and session-webhook reply) that passed its checks waits in one queue
//! per server; a worker writes everything waiting in one transaction —
//! each robot's calls numbered under the rate limit with one statement,
//! each group's messages numbered with one, the messages, their search-log
//! entries and the calls' log entries inserted several rows at a time —
//! then announces the messages in order and answers each caller. Alone, a
//! call is written at once; under load, a transaction and its statements
//! are shared by the whole batch.
//!
//! A batch that fails as a whole (a group dissolved meanwhile, a robot
//! removed, the database refusing) is rolled back and each of its calls
//! is then written on its own, through the single path
//! (`webhook::admit_alone`), which gives each its own answer.

use std::collections::HashMap;

use tram_chat::messages::Message;
use tram_chat::robot_batch::{self, RobotDraft};
use tram_platform::group_commit::GroupCommit;
use tram_platform::AppState;

use crate::calls::{self, Admitted, CallRecord};
use crate::dingtalk::Refusal;
use crate::robots::StoredRobot;
use crate::webhook;

/// Most calls written in one transaction.
const MAX_BATCH: usize = 128;

/// One accepted call waiting to be written.
pub(crate) struct Pending {
    state: AppState,
    robot: StoredRobot,
    draft: RobotDraft,
    ip: String,
    msgtype: String,
}

type Outcome = Result<Message, Refusal>;

/// The server's queue.
struct Queue(GroupCommit<Pending, Outcome>);

/// Writes a checked robot message with whatever else is waiting, and
/// announces it to the group's open pages.
pub(crate) async fn post(
    state: &AppState,
    robot: &StoredRobot,
    draft: RobotDraft,
    ip: &str,
    msgtype: &str,
) -> Outcome {
    let queue = state
        .extensions
        .get_or_init(|| Queue(GroupCommit::new(MAX_BATCH, write)));
    let pending = Pending {
        state: state.clone(),
        robot: robot.clone(),
        draft,
        ip: ip.to_string(),
        msgtype: msgtype.to_string(),
    };
    queue.0.submit(pending).await.unwrap_or(Err(Refusal::Busy))
}

async fn write(batch: Vec<Pending>) -> Vec<Outcome> {
    let Some(state) = batch.first().map(|p| p.state.clone()) else {
        return Vec::new();
    };
    let outcomes = match write_together(&state, &batch).await {
        Ok(outcomes) => outcomes,
        Err(err) => {
            if batch.len() > 1 {
                tracing::debug!(error = %err, calls = batch.len(), "robot batch refused; writing each call alone");
            }
            let mut outcomes = Vec::with_capacity(batch.len());
            for pending in batch {
                outcomes.push(
                    webhook::admit_alone(
                        &pending.state,
                        &pending.robot,
                        pending.draft,
                        &pending.ip,
                        &pending.msgtype,
                    )
                    .await,
                );
            }
            return outcomes;
        }
    };
    // Each group's new messages in one announcement, in order.
    let mut groups: Vec<(&str, Vec<Message>)> = Vec::new();
    for message in outcomes.iter().flatten() {
        match groups
            .iter_mut()
            .find(|(id, _)| *id == message.conversation_id)
        {
            Some((_, messages)) => messages.push(message.clone()),
            None => groups.push((&message.conversation_id, vec![message.clone()])),
        }
    }
    for (conversation_id, messages) in &groups {
        tram_chat::live::announce_messages(&state, conversation_id, messages).await;
    }
    outcomes
}

/// The batch in one transaction; an error means nothing was written.
async fn write_together(
    state: &AppState,
    batch: &[Pending],
) -> Result<Vec<Outcome>, tram_chat::error::ChatError> {
    let limit = state.config.bots.rate_limit_per_minute.max(1);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Each robot's calls, in the order they came; robots in id order (the
    // order concurrent writers lock their rows in).
    let mut by_robot: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, pending) in batch.iter().enumerate() {
        by_robot.entry(&pending.robot.id).or_default().push(i);
    }
    let mut robots: Vec<&str> = by_robot.keys().copied().collect();
    robots.sort_unstable();
    let mut ordinal: Vec<Option<i64>> = vec![None; batch.len()];
    for robot in robots {
        let calls = &by_robot[robot];
        let (admitted, first) =
            calls::admit_run(&mut tx, robot, calls.len() as i64, limit, now).await?;
        for (k, &i) in calls.iter().take(admitted as usize).enumerate() {
            ordinal[i] = Some(first + k as i64);
        }
    }
    let accepted: Vec<usize> = (0..batch.len()).filter(|&i| ordinal[i].is_some()).collect();
    let drafts: Vec<RobotDraft> = accepted.iter().map(|&i| batch[i].draft.clone()).collect();
    let messages = robot_batch::store(&mut tx, &drafts, now).await?;
    let log: Vec<Admitted<'_>> = accepted
        .iter()
        .map(|&i| {
            let pending = &batch[i];
            Admitted {
                call: CallRecord {
                    robot_id: Some(&pending.robot.id),
                    robot_name: Some(&pending.robot.name),
                    conversation_id: Some(&pending.robot.conversation_id),
                    ip: &pending.ip,
                    msgtype: Some(&pending.msgtype),
                    errcode: 0,
                    errmsg: "ok",
                    ..CallRecord::default()
                },
                ordinal: ordinal[i].expect("accepted calls are numbered"),
                message_id: &pending.draft.id,
            }
        })
        .collect();
    calls::insert_admitted(&mut tx, &log, now).await?;
    tx.commit().await?;
    let mut stored = messages.into_iter();
    Ok(ordinal
        .iter()
        .map(|o| match o {
            Some(_) => Ok(stored.next().expect("one message per accepted call")),
            None => Err(Refusal::TooFast(limit)),
        })
        .collect())
}
