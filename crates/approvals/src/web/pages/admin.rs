//! The admins' template pages: the org's templates with their on/off
//! switch, adding a gallery template in one click (naming the finance
//! approver), and the designer. The designer edits name, category and
//! description as inputs, the form's fields one row each (type, label,
//! key, required, options, min/max, pattern; a table's columns as JSON),
//! and the flow node by node (`static/approvals-designer.js`, which keeps
//! the flow as JSON — the shape the JSON API takes — in an "advanced" box
//! that is what the form posts, and is the editor without script); saving
//! makes a new version, and the service's refusal is shown on the page (at
//! the node it names, for a flow).

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

use super::values::Raw;
use super::{error_page, people, refused, see_other};
use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::Flow;
use crate::form::Field;
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

/// The field types the designer offers.
pub const TYPES: &[&str] = &[
    "short_text",
    "long_text",
    "number",
    "money",
    "date",
    "date_range",
    "single_select",
    "multi_select",
    "person",
    "department",
    "attachment",
    "table",
];

/// One field as a designer row.
#[derive(Default)]
pub struct FieldRow {
    /// Its row number in the posted names (`__ROW__` in the blank row).
    n: String,
    key: String,
    label: String,
    kind: String,
    required: bool,
    /// One option a line.
    options: String,
    min: String,
    max: String,
    pattern: String,
    /// A table's columns, as JSON.
    columns: String,
}

impl DesignerPage {
    fn types(&self) -> &'static [&'static str] {
        TYPES
    }
}

fn blank() -> FieldRow {
    FieldRow {
        n: "__ROW__".into(),
        kind: "short_text".into(),
        ..FieldRow::default()
    }
}

fn row_of(n: usize, field: &Field) -> FieldRow {
    let value = serde_json::to_value(field).unwrap_or_default();
    let text = |name: &str| match &value[name] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    FieldRow {
        n: n.to_string(),
        key: field.key.clone(),
        label: field.label.clone(),
        kind: text("type"),
        required: field.required,
        options: value["options"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        min: text("min"),
        max: text("max"),
        pattern: text("pattern"),
        columns: value
            .get("columns")
            .map(|c| serde_json::to_string_pretty(c).unwrap_or_default())
            .unwrap_or_default(),
    }
}

/// The posted rows as fields; a row without key and label is left out.
fn fields_of(raw: &Raw) -> Result<Vec<Field>, ApiError> {
    let bad = |problem: String| {
        let msg = Msg::new("approvals_pages.designer.bad_field").arg("problem", problem);
        ApiError::bad_request("invalid_form", "approvals_pages.designer.bad_field")
            .field("fields", msg)
    };
    let mut fields = Vec::new();
    for row in raw.rows("f") {
        let get = |name: &str| raw.one(&format!("f[{row}].{name}")).trim().to_string();
        let (key, label) = (get("key"), get("label"));
        if key.is_empty() && label.is_empty() {
            continue;
        }
        let mut field = serde_json::Map::new();
        field.insert("key".into(), json!(key));
        field.insert("label".into(), json!(label));
        field.insert("type".into(), json!(get("type")));
        field.insert("required".into(), json!(!get("required").is_empty()));
        let options: Vec<&str> = raw
            .one(&format!("f[{row}].options"))
            .lines()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect();
        field.insert("options".into(), json!(options));
        for bound in ["min", "max"] {
            let text = get(bound);
            if !text.is_empty() {
                let number: f64 = text
                    .parse()
                    .map_err(|_| bad(format!("{key}.{bound}: {text}")))?;
                field.insert(bound.into(), json!(number));
            }
        }
        let pattern = get("pattern");
        if !pattern.is_empty() {
            field.insert("pattern".into(), json!(pattern));
        }
        let columns = get("columns");
        let columns: Value = if columns.is_empty() {
            json!([])
        } else {
            serde_json::from_str(&columns).map_err(|e| bad(format!("{key}: {e}")))?
        };
        field.insert("columns".into(), columns);
        fields.push(
            serde_json::from_value(Value::Object(field)).map_err(|e| bad(format!("{key}: {e}")))?,
        );
    }
    Ok(fields)
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

/// The rows as posted, to show them again with the error.
fn rows_of(raw: &Raw) -> Vec<FieldRow> {
    raw.rows("f")
        .into_iter()
        .map(|row| {
            let get = |name: &str| raw.one(&format!("f[{row}].{name}")).to_string();
            FieldRow {
                n: row.to_string(),
                key: get("key"),
                label: get("label"),
                kind: get("type"),
                required: !get("required").is_empty(),
                options: get("options"),
                min: get("min"),
                max: get("max"),
                pattern: get("pattern"),
                columns: get("columns"),
            }
        })
        .collect()
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
            render_with_status(
                err.status,
                &DesignerPage {
                    ctx,
                    id,
                    version,
                    name: raw.one("name").to_string(),
                    category: raw.one("category").to_string(),
                    description: raw.one("description").to_string(),
                    rows: rows_of(&raw),
                    blank: blank(),
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
