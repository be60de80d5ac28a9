//! The admins' template pages: the org's templates with their on/off
//! switch, adding a gallery template in one click (naming the finance
//! approver), and the designer. The designer edits name, category and
//! description as inputs and the form's fields and the flow as JSON (the
//! same shapes the JSON API takes); saving makes a new version, and the
//! service's refusal is shown on the page.

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

use super::{error_page, people, refused, see_other};
use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::Flow;
use crate::form::Field;
use crate::gallery;
use crate::templates::{self, Template as ApprovalTemplate, TemplateDesign, CATEGORIES};

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
    fields: String,
    flow: String,
    categories: &'static [&'static str],
    errors: FormErrors,
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
        let page = if id == "new" {
            DesignerPage {
                ctx,
                id,
                version: 0,
                name: String::new(),
                category: "custom".into(),
                description: String::new(),
                fields: "[]".into(),
                flow: pretty(&crate::flow::standard(&member.membership.user_id)),
                categories: CATEGORIES,
                errors: FormErrors::none(),
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
                fields: pretty(&t.fields),
                flow: pretty(&t.flow),
                categories: CATEGORIES,
                errors: FormErrors::none(),
            }
        };
        Ok::<_, ApprovalError>(page)
    }
    .await;
    show(result, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct DesignForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    fields: String,
    #[serde(default)]
    flow: String,
}

/// JSON that does not parse is refused at its box, naming the problem.
fn parse(form: &DesignForm) -> Result<TemplateDesign, ApiError> {
    let bad = |name: &'static str, err: serde_json::Error| {
        let msg = Msg::new("approvals_pages.designer.bad_json").arg("problem", err.to_string());
        ApiError::bad_request("invalid_form", "approvals_pages.designer.bad_json").field(name, msg)
    };
    let fields: Vec<Field> = serde_json::from_str(&form.fields).map_err(|e| bad("fields", e))?;
    let flow: Flow = serde_json::from_str(&form.flow).map_err(|e| bad("flow", e))?;
    Ok(TemplateDesign {
        name: form.name.clone(),
        category: form.category.clone(),
        description: form.description.clone(),
        fields,
        flow,
    })
}

pub async fn save(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Form(form): Form<DesignForm>,
) -> Response {
    let me = &member.membership;
    let saved = match parse(&form) {
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
            render_with_status(
                err.status,
                &DesignerPage {
                    ctx,
                    id,
                    version,
                    name: form.name,
                    category: form.category,
                    description: form.description,
                    fields: form.fields,
                    flow: form.flow,
                    categories: CATEGORIES,
                    errors,
                },
            )
        }
    }
}
