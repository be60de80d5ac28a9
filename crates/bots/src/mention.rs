//! A member @mentioned a robot: chat enqueued a `robot.mention` job in the
//! same transaction as the message (so it exists exactly when the message
//! does); this runs it, once across the cluster, and hands it to what the
//! robot is.

use serde::Deserialize;
use tram_platform::jobs::{Job, JobResult, Runner};
use tram_platform::AppState;

use crate::robots::{self, RobotKind};

pub use tram_chat::messages::ROBOT_MENTION_JOB;

/// The job's payload, as chat writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mention {
    pub message_id: String,
    pub conversation_id: String,
    pub robot_id: String,
}

/// Adds the bots' job handlers to the server's runner.
pub fn register(runner: Runner) -> Runner {
    crate::outgoing::register(runner.handle(ROBOT_MENTION_JOB, handle))
}

async fn handle(state: AppState, job: Job) -> JobResult {
    let mention: Mention = serde_json::from_value(job.payload.clone())
        .map_err(|e| format!("unreadable mention job: {e}"))?;
    let robot = robots::by_id(&state.db, &mention.robot_id)
        .await
        .map_err(|e| e.to_string())?;
    // Removed, stopped or moved since: nothing to do.
    let Some(robot) = robot.filter(|r| r.enabled && r.conversation_id == mention.conversation_id)
    else {
        return Ok(());
    };
    match robot.kind {
        // A custom robot with outgoing settings gets a callback.
        RobotKind::Custom => {
            crate::outgoing::enqueue_mention(&state, &robot, &mention.message_id).await
        }
        // Each kind answers in its own module.
        RobotKind::Assistant => {
            crate::assistant::answer::on_mention(&state, &robot, &mention.message_id)
                .await
                .map_err(|e| e.to_string())
        }
        // Scheduled and check-in robots post on their own; a mention asks
        // nothing of them.
        RobotKind::Scheduled | RobotKind::Checkin => {
            tracing::debug!(robot = %robot.id, kind = robot.kind.as_str(), "a mention asks nothing of this robot");
            Ok(())
        }
    }
}
