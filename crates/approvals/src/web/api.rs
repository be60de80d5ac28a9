//! The approvals JSON API under `/api/v1/approvals/`: templates (admins
//! design, everyone reads), submitting, a request's details and trail,
//! "my submissions", the approver's inbox, decisions (one or many), and
//! the admins' statistics.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::{ApiError, ApiResult, AppState};
use utoipa::{OpenApi, ToSchema};

use crate::decisions::{self, AddPosition, Decision};
use crate::delegates::{self, DelegateSetting};
use crate::instances::{self, Instance, Listed};
use crate::templates::{self, Template, TemplateDesign};

/// Upload routes: mounted outside the general body-size limit (a form's
/// file has its own, `files::MAX_FILE_BYTES`, checked as it streams in).
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/api/v1/approvals/files", post(upload_file))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct UploadQuery {
    /// The file's name (shown as text).
    name: String,
}

/// Upload a file for an attachment field: the body is the file, its
/// Content-Type the file's type. The answer's id goes in the field's
/// values when submitting; until then the file is the uploader's only,
/// and one not submitted within a day is removed.
#[utoipa::path(post, path = "/api/v1/approvals/files", tag = "approvals", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = crate::files::ApprovalFile), (status = 400, body = ErrorBody),
              (status = 413, body = ErrorBody, description = "larger than 20 MiB")))]
async fn upload_file(
    State(state): State<AppState>,
    member: OrgMember,
    Query(q): Query<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Json<crate::files::ApprovalFile>> {
    use axum::http::header;
    let header_str = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let file = crate::files::upload(
        &state,
        &member.membership,
        &q.name,
        header_str(header::CONTENT_TYPE),
        header_str(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        body.into_data_stream(),
    )
    .await?;
    Ok(Json(file))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/approvals/templates",
            get(list_templates).post(create_template),
        )
        .route(
            "/api/v1/approvals/templates/{id}",
            get(template).put(update_template),
        )
        .route("/api/v1/approvals/templates/{id}/enabled", put(set_enabled))
        .route("/api/v1/approvals/templates/{id}/submit", post(submit))
        .route("/api/v1/approvals/instances/{id}", get(instance))
        .route("/api/v1/approvals/instances/{id}/withdraw", post(withdraw))
        .route("/api/v1/approvals/mine", get(mine))
        .route("/api/v1/approvals/inbox", get(inbox))
        .route("/api/v1/approvals/tasks/{id}/decision", post(decide))
        .route("/api/v1/approvals/decisions", post(decide_many))
        .route("/api/v1/approvals/tasks/{id}/transfer", post(transfer))
        .route(
            "/api/v1/approvals/tasks/{id}/add-approver",
            post(add_approver),
        )
        .route(
            "/api/v1/approvals/tasks/{id}/return",
            post(return_to_submitter),
        )
        .route("/api/v1/approvals/instances/{id}/resubmit", post(resubmit))
        .route("/api/v1/approvals/stats", get(stats))
        .route("/api/v1/approvals/stats/chart.svg", get(stats_chart))
        .route(
            "/api/v1/approvals/delegate",
            get(delegate).put(set_delegate),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(list_templates, create_template, template, update_template, set_enabled, submit, instance, withdraw, mine,
          inbox, decide, decide_many, delegate, set_delegate, transfer, add_approver, return_to_submitter, resubmit, stats, stats_chart, upload_file),
    components(schemas(crate::files::ApprovalFile, crate::stats::Stats, crate::stats::TemplateStats, crate::stats::ApproverStats, crate::stats::Timing, DelegateSetting, TransferRequest, AddApproverRequest, CommentRequest, AddPosition, Template, TemplateDesign, Instance, Listed, Decision, Submission, DecisionRequest,
                       ManyDecisions, DecisionOutcome, EnabledRequest, crate::form::Field, crate::form::FieldKind,
                       crate::flow::Flow, crate::flow::Node, crate::flow::Branch, crate::flow::Who,
                       crate::flow::Condition, crate::flow::Op, crate::flow::SignMode)),
    tags((name = "approvals", description = "Approval templates, requests and decisions."))
)]
pub struct ApprovalsApi;

/// Statistics per template and approver (admins): counts by status,
/// median and p90 time to decision, overdue tasks.
#[utoipa::path(get, path = "/api/v1/approvals/stats", tag = "approvals",
    responses((status = 200, body = crate::stats::Stats), (status = 403, body = ErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<crate::stats::Stats>> {
    Ok(Json(
        crate::stats::compute(&state, &member.membership).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ChartQuery {
    /// `template` (default) or `approver`.
    by: Option<String>,
    /// `count` (default), `median`, `p90` (hours to decision) or `overdue`.
    measure: Option<String>,
}

/// A bar chart of the statistics as SVG (admins).
#[utoipa::path(get, path = "/api/v1/approvals/stats/chart.svg", tag = "approvals", params(ChartQuery),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn stats_chart(
    State(state): State<AppState>,
    member: OrgMember,
    Query(query): Query<ChartQuery>,
) -> ApiResult<axum::response::Response> {
    use crate::stats_chart::{chart, Measure};
    use axum::response::IntoResponse;
    let measure_key = query.measure.as_deref().unwrap_or("count");
    let by_key = query.by.as_deref().unwrap_or("template");
    let (Some(measure), true) = (
        Measure::parse(measure_key),
        matches!(by_key, "template" | "approver"),
    ) else {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_chart",
            tram_platform::Msg::new("approvals_stats.invalid_chart"),
        ));
    };
    let stats = crate::stats::compute(&state, &member.membership).await?;
    let chart = chart(
        &stats,
        by_key == "approver",
        measure,
        tram_platform::i18n::current(),
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "image/svg+xml; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        chart,
    )
        .into_response())
}

/// The org's approval templates.
#[utoipa::path(get, path = "/api/v1/approvals/templates", tag = "approvals",
    responses((status = 200, body = Vec<Template>)))]
async fn list_templates(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<Template>>> {
    Ok(Json(templates::list(&state.db, &member.org.id).await?))
}

/// Design a template (admins).
#[utoipa::path(post, path = "/api/v1/approvals/templates", tag = "approvals", request_body = TemplateDesign,
    responses((status = 200, body = Template), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_template(
    State(state): State<AppState>,
    member: OrgMember,
    Json(design): Json<TemplateDesign>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        templates::create(&state, &member.membership, &design).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct VersionQuery {
    /// A past version (default: the current one).
    version: Option<i64>,
}

/// A template, at its current or a past version.
#[utoipa::path(get, path = "/api/v1/approvals/templates/{id}", tag = "approvals",
    params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = Template), (status = 404, body = ErrorBody)))]
async fn template(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        templates::get(&state.db, &member.org.id, &id, query.version).await?,
    ))
}

/// Save a new version of a template (admins); requests in flight keep theirs.
#[utoipa::path(put, path = "/api/v1/approvals/templates/{id}", tag = "approvals", params(("id" = String, Path)),
    request_body = TemplateDesign,
    responses((status = 200, body = Template), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update_template(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(design): Json<TemplateDesign>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        templates::update(&state, &member.membership, &id, &design).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct EnabledRequest {
    enabled: bool,
}

/// Switch a template on or off (admins).
#[utoipa::path(put, path = "/api/v1/approvals/templates/{id}/enabled", tag = "approvals", params(("id" = String, Path)),
    request_body = EnabledRequest, responses((status = 200, body = Template), (status = 403, body = ErrorBody)))]
async fn set_enabled(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<EnabledRequest>,
) -> ApiResult<Json<Template>> {
    templates::set_enabled(&state, &member.membership, &id, body.enabled).await?;
    Ok(Json(
        templates::get(&state.db, &member.org.id, &id, None).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct Submission {
    /// Field key → value, as the template's form defines them.
    #[schema(value_type = Object)]
    values: Value,
}

/// Submit a request. Bad values are refused with a message per field
/// (`error.fields`), and nothing is created.
#[utoipa::path(post, path = "/api/v1/approvals/templates/{id}/submit", tag = "approvals", params(("id" = String, Path)),
    request_body = Submission,
    responses((status = 200, body = Instance), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<Submission>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        instances::submit(&state, &member.membership, &id, &body.values).await?,
    ))
}

/// A request with its tasks and trail (its submitter, its approvers and
/// CC recipients, and org admins).
#[utoipa::path(get, path = "/api/v1/approvals/instances/{id}", tag = "approvals", params(("id" = String, Path)),
    responses((status = 200, body = Instance), (status = 404, body = ErrorBody)))]
async fn instance(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        instances::get(&state.db, &member.membership, &id).await?,
    ))
}

/// Withdraw a request that is not finished (its submitter).
#[utoipa::path(post, path = "/api/v1/approvals/instances/{id}/withdraw", tag = "approvals", params(("id" = String, Path)),
    responses((status = 200, body = Instance), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn withdraw(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        decisions::withdraw(&state, &member.membership, &id).await?,
    ))
}

/// The caller's own requests, newest first.
#[utoipa::path(get, path = "/api/v1/approvals/mine", tag = "approvals", responses((status = 200, body = Vec<Listed>)))]
async fn mine(State(state): State<AppState>, member: OrgMember) -> ApiResult<Json<Vec<Listed>>> {
    Ok(Json(
        instances::submitted_by_me(&state.db, &member.membership, 200).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct InboxQuery {
    /// `pending` (default), `done` or `cc`.
    #[serde(rename = "box")]
    which: Option<String>,
}

/// The caller's approval tasks.
#[utoipa::path(get, path = "/api/v1/approvals/inbox", tag = "approvals", params(InboxQuery),
    responses((status = 200, body = Vec<Listed>)))]
async fn inbox(
    State(state): State<AppState>,
    member: OrgMember,
    Query(query): Query<InboxQuery>,
) -> ApiResult<Json<Vec<Listed>>> {
    let which = query.which.as_deref().unwrap_or("pending");
    Ok(Json(
        instances::inbox(&state.db, &member.membership, which, 200).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct DecisionRequest {
    decision: Decision,
    #[serde(default)]
    comment: Option<String>,
}

/// Approve or reject a task (its approver). The same decision sent twice
/// takes effect once; a task already decided (by another or-sign approver,
/// or the request was withdrawn) answers 409 `already_decided`.
#[utoipa::path(post, path = "/api/v1/approvals/tasks/{id}/decision", tag = "approvals", params(("id" = String, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = Instance), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn decide(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<DecisionRequest>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        decisions::act(
            &state,
            &member.membership,
            &id,
            body.decision,
            body.comment.as_deref(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct ManyDecisions {
    task_ids: Vec<String>,
    decision: Decision,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct DecisionOutcome {
    task_id: String,
    ok: bool,
    /// The error code when not ok.
    error: Option<String>,
}

/// Decide several tasks at once; each is decided on its own and answered
/// on its own.
#[utoipa::path(post, path = "/api/v1/approvals/decisions", tag = "approvals", request_body = ManyDecisions,
    responses((status = 200, body = Vec<DecisionOutcome>), (status = 400, body = ErrorBody)))]
async fn decide_many(
    State(state): State<AppState>,
    member: OrgMember,
    Json(body): Json<ManyDecisions>,
) -> ApiResult<Json<Vec<DecisionOutcome>>> {
    if body.task_ids.is_empty() || body.task_ids.len() > 100 {
        return Err(ApiError::bad_request(
            "invalid_batch",
            "approvals.error.invalid_batch",
        ));
    }
    let mut outcomes = Vec::new();
    for task_id in body.task_ids {
        let result = decisions::act(
            &state,
            &member.membership,
            &task_id,
            body.decision,
            body.comment.as_deref(),
        )
        .await;
        outcomes.push(DecisionOutcome {
            task_id,
            ok: result.is_ok(),
            error: result.err().map(|e| ApiError::from(e).code.to_string()),
        });
    }
    Ok(Json(outcomes))
}

/// The caller's delegate and out-of-office period.
#[utoipa::path(get, path = "/api/v1/approvals/delegate", tag = "approvals",
    responses((status = 200, body = DelegateSetting)))]
async fn delegate(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<DelegateSetting>> {
    Ok(Json(delegates::get(&state.db, &member.membership).await?))
}

/// Name a delegate (another member) who takes tasks undecided at their
/// deadline, and, during an out-of-office period, every new task at once.
#[utoipa::path(put, path = "/api/v1/approvals/delegate", tag = "approvals", request_body = DelegateSetting,
    responses((status = 200, body = DelegateSetting), (status = 400, body = ErrorBody)))]
async fn set_delegate(
    State(state): State<AppState>,
    member: OrgMember,
    Json(body): Json<DelegateSetting>,
) -> ApiResult<Json<DelegateSetting>> {
    Ok(Json(
        delegates::set(&state, &member.membership, &body).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct TransferRequest {
    user_id: String,
    #[serde(default)]
    comment: Option<String>,
}

/// Hand the caller's task to another member (轉交).
#[utoipa::path(post, path = "/api/v1/approvals/tasks/{id}/transfer", tag = "approvals", params(("id" = String, Path)),
    request_body = TransferRequest,
    responses((status = 200, body = Instance), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn transfer(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<TransferRequest>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        decisions::transfer(
            &state,
            &member.membership,
            &id,
            &body.user_id,
            body.comment.as_deref(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct AddApproverRequest {
    user_id: String,
    position: AddPosition,
    #[serde(default)]
    comment: Option<String>,
}

/// Add an approver before or after the caller's step (加簽).
#[utoipa::path(post, path = "/api/v1/approvals/tasks/{id}/add-approver", tag = "approvals", params(("id" = String, Path)),
    request_body = AddApproverRequest,
    responses((status = 200, body = Instance), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_approver(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<AddApproverRequest>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        decisions::add_approver(
            &state,
            &member.membership,
            &id,
            &body.user_id,
            body.position,
            body.comment.as_deref(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
struct CommentRequest {
    #[serde(default)]
    comment: Option<String>,
}

/// Return the request to its submitter (退回) to change and resubmit.
#[utoipa::path(post, path = "/api/v1/approvals/tasks/{id}/return", tag = "approvals", params(("id" = String, Path)),
    request_body = CommentRequest,
    responses((status = 200, body = Instance), (status = 409, body = ErrorBody)))]
async fn return_to_submitter(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<CommentRequest>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        decisions::return_to_submitter(&state, &member.membership, &id, body.comment.as_deref())
            .await?,
    ))
}

/// Send a returned request again with changed values (its submitter).
#[utoipa::path(post, path = "/api/v1/approvals/instances/{id}/resubmit", tag = "approvals", params(("id" = String, Path)),
    request_body = Submission,
    responses((status = 200, body = Instance), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn resubmit(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<Submission>,
) -> ApiResult<Json<Instance>> {
    Ok(Json(
        decisions::resubmit(&state, &member.membership, &id, &body.values).await?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_api_document_builds() {
        use utoipa::OpenApi;
        let doc = super::ApprovalsApi::openapi();
        assert!(doc.paths.paths.contains_key("/api/v1/approvals/templates"));
    }
}
