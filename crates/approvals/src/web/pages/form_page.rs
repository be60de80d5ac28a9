//! The request form (`/approvals/new/{template}`, and resubmitting a
//! returned request prefilled): one input per field from the template's
//! current version, the service's per-field errors shown at their fields
//! with everything typed kept, and the request created on success.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use tram_org::members::Membership;
use tram_org::web::OrgMember;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{FormErrors, PageContext};
use tram_platform::AppState;

use super::values::{self, Raw};
use super::{error_page, people, refused, see_other};
use crate::decisions;
use crate::error::{ApprovalError, ApprovalResult};
use crate::form::{Field, FieldKind};
use crate::instances;
use crate::templates::{self, Template as ApprovalTemplate};

/// One input as the page draws it.
pub struct Input {
    pub name: String,
    pub label: String,
    /// The field type (`short_text`, `money`, `table`, …).
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    /// Every value (multi-select, attachments).
    pub values: Vec<String>,
    /// An attachment field's files: (id, name).
    pub files: Vec<(String, String)>,
    /// A date range's ends.
    pub start: String,
    pub end: String,
    /// (value, label).
    pub options: Vec<(String, String)>,
    pub currency: String,
    pub min: String,
    pub max: String,
    pub step: String,
    pub pattern: String,
    pub error: String,
    /// A table's blank row (names with `__ROW__`) and its rows.
    pub blank: Vec<Input>,
    pub rows: Vec<Vec<Input>>,
    /// A table with a money column shows a running total.
    pub has_money: bool,
}

impl Input {
    pub fn chosen(&self, option: &str) -> bool {
        self.value == option || self.values.iter().any(|v| v == option)
    }
}

fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::ShortText { .. } => "short_text",
        FieldKind::LongText => "long_text",
        FieldKind::Number { .. } => "number",
        FieldKind::Money { .. } => "money",
        FieldKind::Date => "date",
        FieldKind::DateRange => "date_range",
        FieldKind::SingleSelect { .. } => "single_select",
        FieldKind::MultiSelect { .. } => "multi_select",
        FieldKind::Person => "person",
        FieldKind::Department => "department",
        FieldKind::Attachment => "attachment",
        FieldKind::Table { .. } => "table",
    }
}

fn bound(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// What pickers offer: members and departments by name.
pub struct Choices {
    pub people: Vec<(String, String)>,
    pub departments: Vec<(String, String)>,
}

fn input(field: &Field, name: &str, raw: &Raw, errors: &FormErrors, choices: &Choices) -> Input {
    let mut input = Input {
        name: name.to_string(),
        label: field.label.clone(),
        kind: kind_name(&field.kind),
        required: field.required,
        value: raw.one(name).to_string(),
        values: raw.all(name).to_vec(),
        files: Vec::new(),
        start: raw.one(&format!("{name}.start")).to_string(),
        end: raw.one(&format!("{name}.end")).to_string(),
        options: Vec::new(),
        currency: String::new(),
        min: String::new(),
        max: String::new(),
        step: String::new(),
        pattern: String::new(),
        error: errors.field(name).to_string(),
        blank: Vec::new(),
        rows: Vec::new(),
        has_money: false,
    };
    match &field.kind {
        FieldKind::ShortText { pattern } => input.pattern = pattern.clone().unwrap_or_default(),
        FieldKind::Number { min, max, decimals } => {
            input.min = bound(*min);
            input.max = bound(*max);
            input.step = if *decimals == 0 {
                "1".into()
            } else {
                format!("0.{}1", "0".repeat(*decimals as usize - 1))
            };
        }
        FieldKind::Money { currency, min, max } => {
            input.currency = crate::form::format_money(currency, 0)
                .trim_end_matches("0.00")
                .trim()
                .to_string();
            input.min = bound(*min);
            input.max = bound(*max);
        }
        FieldKind::SingleSelect { options } | FieldKind::MultiSelect { options } => {
            input.options = options.iter().map(|o| (o.clone(), o.clone())).collect();
        }
        FieldKind::Person => input.options = choices.people.clone(),
        FieldKind::Department => input.options = choices.departments.clone(),
        FieldKind::Table { columns } => {
            input.has_money = columns
                .iter()
                .any(|c| matches!(c.kind, FieldKind::Money { .. }));
            let cells = |row: &str| {
                columns
                    .iter()
                    .map(|c| {
                        input_cell(c, &format!("{name}[{row}].{}", c.key), raw, errors, choices)
                    })
                    .collect::<Vec<_>>()
            };
            input.blank = cells("__ROW__");
            let mut rows: Vec<usize> = raw.rows(name);
            if rows.is_empty() {
                rows.push(1);
            }
            input.rows = rows.iter().map(|r| cells(&r.to_string())).collect();
        }
        _ => {}
    }
    input
}

fn input_cell(
    field: &Field,
    name: &str,
    raw: &Raw,
    errors: &FormErrors,
    choices: &Choices,
) -> Input {
    input(field, name, raw, errors, choices)
}

#[derive(Template)]
#[template(path = "approvals_form.html")]
struct FormPage {
    ctx: PageContext,
    template: ApprovalTemplate,
    inputs: Vec<Input>,
    /// Where the form posts.
    action: String,
    errors: FormErrors,
}

async fn choices(state: &AppState, org_id: &str) -> ApprovalResult<Choices> {
    Ok(Choices {
        people: people(state, org_id).await?,
        departments: tram_org::departments::list(&state.db, org_id)
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect(),
    })
}

async fn form_page(
    state: &AppState,
    ctx: PageContext,
    me: &Membership,
    template: ApprovalTemplate,
    raw: &Raw,
    action: String,
    errors: FormErrors,
) -> ApprovalResult<FormPage> {
    let choices = choices(state, &me.org_id).await?;
    let mut inputs: Vec<Input> = template
        .fields
        .iter()
        .map(|f| input(f, &f.key, raw, &errors, &choices))
        .collect();
    // Files already uploaded (a refused submission, a resubmission) are
    // shown by name; ids that are not the member's files are dropped.
    for i in inputs.iter_mut().filter(|i| i.kind == "attachment") {
        let files = crate::files::uploaded_by(state, me, &i.values).await?;
        i.files = i
            .values
            .iter()
            .filter_map(|id| files.get(id).map(|f| (id.clone(), f.file_name.clone())))
            .collect();
    }
    Ok(FormPage {
        ctx,
        template,
        inputs,
        action,
        errors,
    })
}

fn show(result: ApprovalResult<FormPage>, status: StatusCode) -> Response {
    match result {
        Ok(page) => render_with_status(status, &page),
        Err(err) => error_page(err),
    }
}

/// A switched-off template has no form (requests in flight go on).
async fn enabled_template(
    state: &AppState,
    org_id: &str,
    id: &str,
) -> ApprovalResult<ApprovalTemplate> {
    let template = templates::get(&state.db, org_id, id, None).await?;
    if !template.enabled {
        return Err(ApprovalError::TemplateDisabled);
    }
    Ok(template)
}

pub async fn new(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let org_id = member.org.id.clone();
    let result = async {
        let template = enabled_template(&state, &org_id, &id).await?;
        let action = format!("/approvals/new/{id}");
        form_page(
            &state,
            ctx,
            &member.membership,
            template,
            &Raw::default(),
            action,
            FormErrors::none(),
        )
        .await
    }
    .await;
    show(result, StatusCode::OK)
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let org_id = member.org.id.clone();
    let template = match templates::get(&state.db, &org_id, &id, None).await {
        Ok(template) => template,
        Err(err) => return error_page(err),
    };
    let mut raw = Raw::from_pairs(pairs);
    values::compact(&template.fields, &mut raw);
    let json = values::to_json(&template.fields, &raw);
    match instances::submit(&state, &member.membership, &id, &json).await {
        Ok(instance) => see_other(&format!("/approvals/{}", instance.id)),
        Err(err) => {
            let (status, errors) = refused(err, &ctx);
            let action = format!("/approvals/new/{id}");
            show(
                form_page(
                    &state,
                    ctx,
                    &member.membership,
                    template,
                    &raw,
                    action,
                    errors,
                )
                .await,
                status,
            )
        }
    }
}

/// A returned request's form, prefilled with what was submitted, on the
/// version it was submitted under.
pub async fn resubmit_form(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let org_id = member.org.id.clone();
    let result = async {
        let instance = instances::get(&state.db, &member.membership, &id).await?;
        if instance.submitter_id != member.membership.user_id {
            return Err(ApprovalError::NotSubmitter);
        }
        let template = templates::get(
            &state.db,
            &org_id,
            &instance.template_id,
            Some(instance.template_version),
        )
        .await?;
        let raw = values::to_raw(&template.fields, &instance.values);
        let action = format!("/approvals/{id}/resubmit");
        form_page(
            &state,
            ctx,
            &member.membership,
            template,
            &raw,
            action,
            FormErrors::none(),
        )
        .await
    }
    .await;
    show(result, StatusCode::OK)
}

pub async fn resubmit(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let org_id = member.org.id.clone();
    let template = async {
        let instance = instances::get(&state.db, &member.membership, &id).await?;
        templates::get(
            &state.db,
            &org_id,
            &instance.template_id,
            Some(instance.template_version),
        )
        .await
    }
    .await;
    let template = match template {
        Ok(template) => template,
        Err(err) => return error_page(err),
    };
    let mut raw = Raw::from_pairs(pairs);
    values::compact(&template.fields, &mut raw);
    let json = values::to_json(&template.fields, &raw);
    match decisions::resubmit(&state, &member.membership, &id, &json).await {
        Ok(instance) => see_other(&format!("/approvals/{}", instance.id)),
        Err(err) => {
            let (status, errors) = refused(err, &ctx);
            let action = format!("/approvals/{id}/resubmit");
            show(
                form_page(
                    &state,
                    ctx,
                    &member.membership,
                    template,
                    &raw,
                    action,
                    errors,
                )
                .await,
                status,
            )
        }
    }
}
