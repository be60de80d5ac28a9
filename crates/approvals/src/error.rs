//! Everything that can go wrong with approvals, and its one mapping to HTTP.

use axum::http::StatusCode;
use tram_org::error::OrgError;
use tram_platform::{ApiError, Msg};

use crate::form::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("template name missing or too long")]
    InvalidName,
    #[error("unknown template category")]
    InvalidCategory,
    #[error("the form's design is wrong at {field}: {problem}")]
    InvalidForm {
        field: String,
        problem: &'static str,
    },
    #[error("the flow's design is wrong at {node}: {problem}")]
    InvalidFlow { node: String, problem: &'static str },
    #[error("the submitted values are refused")]
    InvalidValues(Vec<FieldError>),
    #[error("the template is switched off")]
    TemplateDisabled,
    #[error("admins only")]
    AdminOnly,
    #[error("not yours to act on")]
    NotYourTask,
    #[error("already decided")]
    AlreadyDecided,
    #[error("only the submitter may do this")]
    NotSubmitter,
    #[error("the request is finished")]
    Finished,
    #[error("not someone who can take this task")]
    InvalidAssignee,
    #[error("comment too long")]
    InvalidComment,
    #[error("delegate or out-of-office period not valid ({0})")]
    InvalidDelegate(&'static str),
    #[error("not found")]
    NotFound,
    /// An upload refused (size, name, storage), as chat refuses it.
    #[error(transparent)]
    File(#[from] tram_chat::error::ChatError),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ApprovalError> for ApiError {
    fn from(err: ApprovalError) -> ApiError {
        use ApprovalError::*;
        let e = |status, code, key| ApiError::new(status, code, Msg::new(key));
        match err {
            InvalidName => e(
                StatusCode::BAD_REQUEST,
                "invalid_name",
                "approvals.error.invalid_name",
            )
            .field("name", Msg::new("approvals.error.invalid_name")),
            InvalidCategory => e(
                StatusCode::BAD_REQUEST,
                "invalid_category",
                "approvals.error.invalid_category",
            )
            .field("category", Msg::new("approvals.error.invalid_category")),
            InvalidForm { field, problem } => {
                let msg = Msg::new(design_key(problem)).arg("field", &field);
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_form", msg.clone())
                    .field(format!("fields.{field}"), msg)
            }
            InvalidFlow { node, problem } => {
                let msg = Msg::new("approvals.error.invalid_flow")
                    .arg("node", &node)
                    .arg("problem", problem);
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_flow", msg.clone())
                    .field(format!("flow.{node}"), msg)
            }
            InvalidValues(errors) => {
                let mut api = e(
                    StatusCode::BAD_REQUEST,
                    "invalid_values",
                    "approvals.error.invalid_values",
                );
                for error in errors {
                    let mut msg = Msg::new(field_key(error.code));
                    for (name, value) in error.args {
                        msg = msg.arg(name, value);
                    }
                    api = api.field(error.field, msg);
                }
                api
            }
            TemplateDisabled => e(
                StatusCode::CONFLICT,
                "template_disabled",
                "approvals.error.template_disabled",
            ),
            AdminOnly => e(
                StatusCode::FORBIDDEN,
                "admin_only",
                "approvals.error.admin_only",
            ),
            NotYourTask => e(
                StatusCode::FORBIDDEN,
                "not_your_task",
                "approvals.error.not_your_task",
            ),
            AlreadyDecided => e(
                StatusCode::CONFLICT,
                "already_decided",
                "approvals.error.already_decided",
            ),
            NotSubmitter => e(
                StatusCode::FORBIDDEN,
                "not_submitter",
                "approvals.error.not_submitter",
            ),
            Finished => e(StatusCode::CONFLICT, "finished", "approvals.error.finished"),
            InvalidComment => e(
                StatusCode::BAD_REQUEST,
                "invalid_comment",
                "approvals.error.invalid_comment",
            )
            .field("comment", Msg::new("approvals.error.invalid_comment")),
            InvalidAssignee => e(
                StatusCode::BAD_REQUEST,
                "invalid_assignee",
                "approvals.error.invalid_assignee",
            )
            .field("user_id", Msg::new("approvals.error.invalid_assignee")),
            InvalidDelegate(field) => e(
                StatusCode::BAD_REQUEST,
                "invalid_delegate",
                "approvals.error.invalid_delegate",
            )
            .field(field, Msg::new("approvals.error.invalid_delegate")),
            NotFound => e(
                StatusCode::NOT_FOUND,
                "not_found",
                "approvals.error.not_found",
            ),
            File(inner) => inner.into(),
            Org(inner) => inner.into(),
            Database(inner) => ApiError::internal(inner),
        }
    }
}

/// The message key of a field error code (every code has one; a unit test
/// in the i18n module checks the catalogs agree).
fn field_key(code: &'static str) -> &'static str {
    match code {
        "required" => "approvals.field.required",
        "unknown_field" => "approvals.field.unknown_field",
        "not_an_object" => "approvals.field.not_an_object",
        "not_text" => "approvals.field.not_text",
        "too_long" => "approvals.field.too_long",
        "pattern" => "approvals.field.pattern",
        "not_a_number" => "approvals.field.not_a_number",
        "decimals" => "approvals.field.decimals",
        "money_decimals" => "approvals.field.money_decimals",
        "too_large" => "approvals.field.too_large",
        "below_min" => "approvals.field.below_min",
        "above_max" => "approvals.field.above_max",
        "not_a_date" => "approvals.field.not_a_date",
        "not_a_date_range" => "approvals.field.not_a_date_range",
        "range_reversed" => "approvals.field.range_reversed",
        "not_an_option" => "approvals.field.not_an_option",
        "not_an_id" => "approvals.field.not_an_id",
        "not_a_member" => "approvals.field.not_a_member",
        "not_rows" => "approvals.field.not_rows",
        "too_many_rows" => "approvals.field.too_many_rows",
        "unknown_file" => "approvals_designer.file.unknown",
        _ => "approvals.field.invalid",
    }
}

/// The message key of a form design problem (`form::check_design`).
fn design_key(problem: &'static str) -> &'static str {
    match problem {
        "field_count" => "approvals_designer.design.field_count",
        "column_count" => "approvals_designer.design.column_count",
        "key" => "approvals_designer.design.key",
        "duplicate_key" => "approvals_designer.design.duplicate_key",
        "label" => "approvals_designer.design.label",
        "pattern" => "approvals_designer.design.pattern",
        "bounds" => "approvals_designer.design.bounds",
        "decimals" => "approvals_designer.design.decimals",
        "currency" => "approvals_designer.design.currency",
        "options" => "approvals_designer.design.options",
        "nested_table" => "approvals_designer.design.nested_table",
        "attachment_in_table" => "approvals_designer.design.attachment_in_table",
        _ => "approvals.error.invalid_form",
    }
}

pub type ApprovalResult<T> = Result<T, ApprovalError>;
