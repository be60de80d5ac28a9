//! The admins' template pages: the org's templates with their on/off
//! switch, adding a gallery template in one click (naming the finance
//! approver), and the designer. The designer edits name, category and
//! description as inputs, the form's fields one row each (`designer_rows`;
//! a table's columns one row each too), and the flow node by node
//! (`static/approvals-designer.js`, which keeps the flow — and a table's
//! columns — as JSON, the shape the JSON API takes, in a box that is what
//! the form posts, and is the editor without script); saving makes a new
//! version, and the service's refusal is shown on the page (at the node it
//! names, for a flow; at the field row, and column, for the form).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use tram_org::web::OrgMember;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{FormErrors, PageContext};
use tram_platform::{ApiError, AppState, Msg};

use super::designer_rows::{self, blank, column_editor, fields_of, row_of, rows_of, FieldRow};
use super::values::Raw;
use super::{error_page, people, refused, see_other};
use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::Flow;
use crate::gallery;
use crate::templates::{self, Template as ApprovalTemplate, TemplateDesign, CATEGORIES};
use serde_json::{json, Value};

#[derive(Template)]
#[template(path = "approvals_admin.html")]
struct ListPage {
    ctx: PageContext,
    templates: Vec<ApprovalTemplate>,
    kinds: Vec<(&'static str, &'static str)>,
    people: Vec<(String, String)>,
    errors: FormErrors,
}

async fn list_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    errors: FormErrors,
) -> ApprovalResult<ListPage> {
    member
        .membership
        .require_admin()
        .map_err(|_| ApprovalError::AdminOnly)?;
    let kinds = gallery::KINDS
        .iter()
        .map(|k| (*k, ctx.t(&format!("approvals_pages.gallery.{k}"))))
        .collect();
    Ok(ListPage {
        templates: templates::list(&state.db, &member.org.id).await?,
        people: people(state, &member.org.id).await?,
        kinds,
        ctx,
        errors,
    })
}

fn show<T: askama::Template>(result: ApprovalResult<T>, status: StatusCode) -> Response {
    match result {
        Ok(page) => render_with_status(status, &page),
        Err(err) => error_page(err),
    }
}

pub async fn list(State(state): State<AppState>, ctx: PageContext, member: OrgMember) -> Response {
    show(
        list_page(&state, ctx, &member, FormErrors::none()).await,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct GalleryForm {
    kind: String,
    #[serde(default)]
    finance_user_id: String,
}

pub async fn add_gallery(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Form(form): Form<GalleryForm>,
) -> Response {
    let added = gallery::add(
        &state,
        &member.membership,
        &form.kind,
        &form.finance_user_id,
        ctx.locale,
    )
    .await;
    match added {
        Ok(_) => see_other("/approvals/admin/templates"),
        Err(err) => {
            // The only person a gallery flow names is the finance approver.
            let err = match err {
                ApprovalError::InvalidFlow { .. } => ApiError::bad_request(
                    "invalid_flow",
                    "approvals_pages.gallery.finance_required",
                )
                .field(
                    "finance_user_id",
                    Msg::new("approvals_pages.gallery.finance_required"),
                ),
                other => ApiError::from(other),
            };
            let status = err.status;
            let errors = FormErrors::from_error(&err, ctx.locale);
            show(list_page(&state, ctx, &member, errors).await, status)
        }
    }
}

#[derive(Deserialize)]
pub struct EnabledForm {
    enabled: String,
}

pub async fn set_enabled(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Form(form): Form<EnabledForm>,
) -> Response {
    let on = form.enabled == "true";
    match templates::set_enabled(&state, &member.membership, &id, on).await {
        Ok(()) => see_other("/approvals/admin/templates"),
        Err(ApprovalError::NotFound) => error_page(ApprovalError::NotFound),
        Err(err) => {
            let (status, errors) = refused(err, &ctx);
            show(list_page(&state, ctx, &member, errors).await, status)
        }
    }
}

#[derive(Template)]
#[template(path = "approvals_designer.html")]
struct DesignerPage {
    ctx: PageContext,
    /// "new" for a new template.
    id: String,
    version: i64,
    name: String,
    category: String,
    description: String,
    rows: Vec<FieldRow>,
    blank: FieldRow,
    /// A refusal of the fields that names no row.
    fields_error: Option<String>,
    /// For the column editor: the column types and its labels, as JSON.
    columns_ui: String,
    flow: String,
    categories: &'static [&'static str],
    errors: FormErrors,
    /// For the flow editor: the org's people and departments as JSON
    /// (`{"people": [[id, name]…], "departments": […]}`), and its labels.
    lists: String,
    labels: String,
    /// The node the service refused the flow at, and why.
    flow_error: Option<(String, String)>,
}

/// The flow editor's texts (`approvals_designer.flow.<key>`).
const FLOW_LABELS: &[&str] = &[
    "approver",
    "cc",
    "branch",
    "node_id",
    "name",
    "up",
    "down",
    "remove",
    "approvers",
    "recipients",
    "add_who",
    "who",
    "who_person",
    "who_manager",
    "who_department_head",
    "who_role",
    "who_picked_in_field",
    "level",
    "role_admin",
    "role_owner",
    "field",
    "mode",
    "countersign",
    "or_sign",
    "deadline_hours",
    "allow_submitter",
    "path",
    "path_name",
    "remove_path",
    "add_path",
    "default_path",
    "when",
    "condition",
    "cond_field",
    "cond_department",
    "op",
    "op_in",
    "value",
    "add_condition",
    "combine_all",
    "combine_any",
    "complex",
    "empty",
    "start",
    "end",
];

/// The flow editor's lists and labels, as JSON for its data attributes.
async fn editor_data(
    state: &AppState,
    org_id: &str,
    ctx: &PageContext,
) -> ApprovalResult<(String, String)> {
    let departments: Vec<(String, String)> = tram_org::departments::list(&state.db, org_id)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let lists = json!({ "people": people(state, org_id).await?, "departments": departments });
    let labels: serde_json::Map<String, Value> = FLOW_LABELS
        .iter()
        .map(|k| {
            let text = ctx.t(&format!("approvals_designer.flow.{k}"));
            (k.to_string(), json!(text))
        })
        .collect();
    Ok((lists.to_string(), Value::Object(labels).to_string()))
}

impl DesignerPage {
    fn types(&self) -> &'static [&'static str] {
        designer_rows::TYPES
    }
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

pub async fn designer(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        member
            .membership
            .require_admin()
            .map_err(|_| ApprovalError::AdminOnly)?;
        let (lists, labels) = editor_data(&state, &member.org.id, &ctx).await?;
        let columns_ui = column_editor(&ctx);
        let page = if id == "new" {
            DesignerPage {
                ctx,
                id,
                version: 0,
                name: String::new(),
                category: "custom".into(),
                description: String::new(),
                rows: Vec::new(),
                blank: blank(),
                fields_error: None,
                columns_ui,
                flow: pretty(&crate::flow::standard(&member.membership.user_id)),
                categories: CATEGORIES,
                errors: FormErrors::none(),
                lists,
                labels,
                flow_error: None,
            }
        } else {
            let t = templates::get(&state.db, &member.org.id, &id, None).await?;
            DesignerPage {
                ctx,
                id,
                version: t.version,
                name: t.name,
                category: t.category,
                description: t.description,
                rows: t
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| row_of(i + 1, f))
                    .collect(),
                blank: blank(),
                fields_error: None,
                columns_ui,
                flow: pretty(&t.flow),
                categories: CATEGORIES,
                errors: FormErrors::none(),
                lists,
                labels,
                flow_error: None,
            }
        };
        Ok::<_, ApprovalError>(page)
    }
    .await;
    show(result, StatusCode::OK)
}

/// JSON that does not parse is refused at its box, naming the problem.
fn parse(raw: &Raw) -> Result<TemplateDesign, ApiError> {
    let fields = fields_of(raw)?;
    let flow: Flow = serde_json::from_str(raw.one("flow")).map_err(|err| {
        let msg = Msg::new("approvals_pages.designer.bad_json").arg("problem", err.to_string());
        ApiError::bad_request("invalid_form", "approvals_pages.designer.bad_json")
            .field("flow", msg)
    })?;
    Ok(TemplateDesign {
        name: raw.one("name").to_string(),
        category: raw.one("category").to_string(),
        description: raw.one("description").to_string(),
        fields,
        flow,
    })
}

pub async fn save(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let me = &member.membership;
    let raw = Raw::from_pairs(pairs);
    let saved = match parse(&raw) {
        Ok(design) if id == "new" => templates::create(&state, me, &design)
            .await
            .map_err(ApiError::from),
        Ok(design) => templates::update(&state, me, &id, &design)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match saved {
        Ok(template) => see_other(&format!("/approvals/admin/templates/{}", template.id)),
        Err(err) if err.status == StatusCode::NOT_FOUND => err.into_response(),
        Err(err) => {
            let version = match templates::get(&state.db, &member.org.id, &id, None).await {
                Ok(t) => t.version,
                Err(_) => 0,
            };
            let errors = FormErrors::from_error(&err, ctx.locale);
            let flow_error = err.fields.iter().find_map(|(name, msg)| {
                let node = name.strip_prefix("flow.")?;
                Some((node.to_string(), msg.render(ctx.locale)))
            });
            let (lists, labels) = match editor_data(&state, &member.org.id, &ctx).await {
                Ok(data) => data,
                Err(err) => return error_page(err),
            };
            let mut rows = rows_of(&raw);
            let fields_error = designer_rows::place_error(&mut rows, &err, ctx.locale);
            let columns_ui = column_editor(&ctx);
            render_with_status(
                err.status,
                &DesignerPage {
                    ctx,
                    id,
                    version,
                    name: raw.one("name").to_string(),
                    category: raw.one("category").to_string(),
                    description: raw.one("description").to_string(),
                    rows,
                    blank: blank(),
                    fields_error,
                    columns_ui,
                    flow: raw.one("flow").to_string(),
                    categories: CATEGORIES,
                    errors,
                    lists,
                    labels,
                    flow_error,
                },
            )
        }
    }
}
