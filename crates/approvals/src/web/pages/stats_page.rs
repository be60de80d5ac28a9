//! The admins' statistics page (`/approvals/admin/stats`): per template
//! and per approver, the counts, the median and p90 time to decision and
//! the overdue tasks, as the SVG bar charts of `stats_chart` and as
//! tables, for the requests and tasks of a date range (Hong Kong dates,
//! both ends included; no range is all time).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tram_org::web::OrgMember;
use tram_platform::clock::hk_midnight;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{FormErrors, PageContext};
use tram_platform::{ApiError, AppState, Msg};

use super::error_page;
use crate::error::ApprovalError;
use crate::stats::{self, Period, Stats};
use crate::stats_chart::{chart, Measure};

#[derive(Template)]
#[template(path = "approvals_stats.html")]
struct StatsPage {
    ctx: PageContext,
    from: String,
    to: String,
    stats: Stats,
    /// Inline SVG charts per template, then per approver.
    template_charts: Vec<String>,
    approver_charts: Vec<String>,
    errors: FormErrors,
}

impl StatsPage {
    fn total(&self, counts: &std::collections::BTreeMap<String, i64>) -> i64 {
        counts.values().sum()
    }

    fn count(&self, counts: &std::collections::BTreeMap<String, i64>, status: &str) -> i64 {
        counts.get(status).copied().unwrap_or(0)
    }

    /// Hours with one decimal, or a dash when nothing was decided.
    fn hours(&self, ms: &Option<i64>) -> String {
        ms.map(|ms| format!("{:.1}", ms as f64 / 3_600_000.0))
            .unwrap_or_else(|| "–".into())
    }
}

#[derive(Deserialize, Default)]
pub struct StatsQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The period of the two dates (either may be blank), or the field at fault.
fn period(from: &str, to: &str) -> Result<Period, ApiError> {
    let bad = |field: &'static str| {
        ApiError::bad_request("invalid_period", "approvals_designer.stats.bad_period")
            .field(field, Msg::new("approvals_designer.stats.bad_period"))
    };
    let start = hk_midnight(from).map_err(|()| bad("from"))?;
    let end = hk_midnight(to).map_err(|()| bad("to"))?;
    if let (Some(a), Some(b)) = (start, end) {
        if b < a {
            return Err(bad("to"));
        }
    }
    // Both ends included: up to the midnight after `to` (Hong Kong has no
    // daylight saving, so a day is always 24 hours).
    Ok(Period {
        from: start.unwrap_or(i64::MIN),
        until: end.map(|d| d + 86_400_000).unwrap_or(i64::MAX),
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Query(query): Query<StatsQuery>,
) -> Response {
    if member.membership.require_admin().is_err() {
        return error_page(ApprovalError::AdminOnly);
    }
    let (wanted, errors, status) = match period(&query.from, &query.to) {
        Ok(p) => (p, FormErrors::none(), StatusCode::OK),
        Err(err) => (
            Period::ALL,
            FormErrors::from_error(&err, ctx.locale),
            err.status,
        ),
    };
    let stats = match stats::compute_in(&state, &member.membership, wanted).await {
        Ok(stats) => stats,
        Err(err) => return error_page(err),
    };
    let charts = |by_approver: bool| -> Vec<String> {
        Measure::ALL
            .iter()
            .map(|m| chart(&stats, by_approver, *m, ctx.locale))
            .collect()
    };
    let (template_charts, approver_charts) = (charts(false), charts(true));
    render_with_status(
        status,
        &StatsPage {
            ctx,
            from: query.from,
            to: query.to,
            stats,
            template_charts,
            approver_charts,
            errors,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_whole_hong_kong_days_and_refuses_bad_dates() {
        let p = period("2026-11-01", "2026-11-01").unwrap();
        // 2026-11-01 00:00 HKT is 2026-10-31 16:00 UTC; a day later.
        assert_eq!(p.from, 1_793_462_400_000);
        assert_eq!(p.until - p.from, 86_400_000);
        assert_eq!(period("", "").unwrap(), Period::ALL);
        assert!(period("2026-11-02", "2026-11-01").is_err());
        assert!(period("yesterday", "").is_err());
    }
}
