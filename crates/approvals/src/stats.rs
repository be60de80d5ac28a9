//! Approval statistics for admins: per template and per approver, the
//! counts by status, the median and 90th percentile of the time from a
//! task's creation to its decision, and the tasks overdue now (pending
//! past their deadline). Read from the org's tasks and requests and
//! computed in Rust (percentiles are not portable SQL).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Timing {
    /// Decided approval tasks the times are taken over.
    pub decided: i64,
    /// Median time from task created to decided, in ms.
    pub median_ms: Option<i64>,
    /// 90th percentile of the same, in ms.
    pub p90_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateStats {
    pub template_id: String,
    pub name: String,
    /// Requests by status (pending, approved, rejected, withdrawn, returned).
    pub requests: BTreeMap<String, i64>,
    pub timing: Timing,
    /// Approval tasks still pending past their deadline.
    pub overdue: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApproverStats {
    pub user_id: String,
    pub name: String,
    /// Approval tasks by status (pending, approved, rejected, cancelled,
    /// moved, returned…).
    pub tasks: BTreeMap<String, i64>,
    pub timing: Timing,
    pub overdue: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// When it was computed (overdue is as of then).
    pub at: i64,
    pub templates: Vec<TemplateStats>,
    pub approvers: Vec<ApproverStats>,
}

/// The value at fraction `q` of sorted `values` (nearest rank).
pub fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn timing(mut durations: Vec<i64>) -> Timing {
    durations.sort_unstable();
    Timing {
        decided: durations.len() as i64,
        median_ms: percentile(&durations, 0.5),
        p90_ms: percentile(&durations, 0.9),
    }
}

#[derive(Default)]
struct Acc {
    name: String,
    counts: BTreeMap<String, i64>,
    durations: Vec<i64>,
    overdue: i64,
}

/// The time the statistics cover: requests submitted and tasks created
/// from `from` (inclusive) to `until` (exclusive), in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub until: i64,
}

impl Period {
    /// Everything, however old.
    pub const ALL: Period = Period {
        from: i64::MIN,
        until: i64::MAX,
    };
}

/// The org's statistics over all time (admins only).
pub async fn compute(state: &AppState, me: &Membership) -> ApprovalResult<Stats> {
    compute_in(state, me, Period::ALL).await
}

/// The org's statistics for requests submitted and tasks created in
/// `period` (admins only); overdue is still as of now.
pub async fn compute_in(
    state: &AppState,
    me: &Membership,
    period: Period,
) -> ApprovalResult<Stats> {
    if !me.role.is_admin() {
        return Err(ApprovalError::AdminOnly);
    }
    let now = state.clock.now_ms();
    let mut templates: BTreeMap<String, Acc> = BTreeMap::new();
    for row in sqlx::query(
        "SELECT t.id, t.name, i.status, COUNT(i.id) AS n FROM approval_templates t \
         LEFT JOIN approval_instances i ON i.template_id = t.id \
           AND i.created_at >= $2 AND i.created_at < $3 \
         WHERE t.org_id = $1 GROUP BY t.id, t.name, i.status",
    )
    .bind(&me.org_id)
    .bind(period.from)
    .bind(period.until)
    .fetch_all(state.db.read())
    .await?
    {
        let acc = templates.entry(row.try_get("id")?).or_default();
        acc.name = row.try_get("name")?;
        if let Some(status) = row.try_get::<Option<String>, _>("status")? {
            acc.counts.insert(status, row.try_get("n")?);
        }
    }
    let mut approvers: BTreeMap<String, Acc> = BTreeMap::new();
    for row in sqlx::query(
        "SELECT i.template_id, t.assignee_id, t.status, t.created_at, t.decided_at, t.due_at \
         FROM approval_tasks t JOIN approval_instances i ON i.id = t.instance_id \
         WHERE t.org_id = $1 AND t.kind = 'approve' AND t.created_at >= $2 AND t.created_at < $3",
    )
    .bind(&me.org_id)
    .bind(period.from)
    .bind(period.until)
    .fetch_all(state.db.read())
    .await?
    {
        let status: String = row.try_get("status")?;
        let created: i64 = row.try_get("created_at")?;
        let decided: Option<i64> = row.try_get("decided_at")?;
        let due: Option<i64> = row.try_get("due_at")?;
        // Only a decision counts towards the time to decide (not a task
        // cancelled by someone else's decision or moved at its deadline).
        let took = decided
            .filter(|_| status == "approved" || status == "rejected")
            .map(|d| d - created);
        let overdue = status == "pending" && due.is_some_and(|d| d < now);
        let approver = approvers.entry(row.try_get("assignee_id")?).or_default();
        *approver.counts.entry(status.clone()).or_default() += 1;
        approver.durations.extend(took);
        approver.overdue += i64::from(overdue);
        let template = templates.entry(row.try_get("template_id")?).or_default();
        template.durations.extend(took);
        template.overdue += i64::from(overdue);
    }
    // Names through the accounts service (approvers are few).
    for (id, acc) in approvers.iter_mut() {
        acc.name = tram_accounts::users::get(&state.db, id)
            .await
            .map(|u| u.display_name)
            .unwrap_or_default();
    }
    Ok(Stats {
        at: now,
        templates: templates
            .into_iter()
            .map(|(id, a)| TemplateStats {
                template_id: id,
                name: a.name,
                requests: a.counts,
                timing: timing(a.durations),
                overdue: a.overdue,
            })
            .collect(),
        approvers: approvers
            .into_iter()
            .map(|(id, a)| ApproverStats {
                user_id: id,
                name: a.name,
                tasks: a.counts,
                timing: timing(a.durations),
                overdue: a.overdue,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&values, 0.5), Some(5));
        assert_eq!(percentile(&values, 0.9), Some(9));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
