//! Admin pages: members and invitations, one member (role, manager,
//! department, devices), departments, the device policy and requests, and
//! the audit log. Every handler takes an `OrgMember` and checks that it is
//! an admin; the services check again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tram_accounts::sessions::{self, Actor, DeviceView};
use tram_platform::audit::kind;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{render, ClientInfo, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use super::optional;
use crate::audit_view::{self, AuditEvent, AuditFilter};
use crate::departments::{self, Department, DepartmentInput};
use crate::device_policy::{self, DeviceRequest};
use crate::invitations::{self, Invitation, NewInvitation};
use crate::members::{self, Member, Role};
use crate::web::access::OrgMember;
use crate::OrgError;

fn require_admin(member: &OrgMember) -> Result<(), Response> {
    member
        .require_admin()
        .map_err(|e| ApiError::from(e).into_response())
}

// ---- members and invitations ----

#[derive(Template)]
#[template(path = "admin_members.html")]
struct MembersPage {
    ctx: PageContext,
    members: Vec<Member>,
    invitations: Vec<Invitation>,
    created: Option<NewInvitation>,
    is_owner: bool,
    errors: FormErrors,
}

fn role_label(ctx: &PageContext, role: &str) -> &'static str {
    ctx.t(&format!("org.page.roles.{role}"))
}

impl MembersPage {
    fn role_label(&self, role: &str) -> &'static str {
        role_label(&self.ctx, role)
    }
}

impl MemberPage {
    fn role_label(&self, role: &str) -> &'static str {
        role_label(&self.ctx, role)
    }
}

impl DevicesPage {
    fn status_label(&self, status: &str) -> &'static str {
        self.ctx.t(&format!("org.page.devices.status_{status}"))
    }
}

async fn members_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
) -> Result<MembersPage, ApiError> {
    Ok(MembersPage {
        ctx,
        members: members::list(&state.db, &member.org.id).await?,
        invitations: invitations::list(&state.db, &member.org.id).await?,
        created: None,
        is_owner: member.membership.role == Role::Owner,
        errors: FormErrors::none(),
    })
}

pub async fn members(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
) -> Response {
    if let Err(r) = require_admin(&member) {
        return r;
    }
    match members_page(&state, ctx, &member).await {
        Ok(page) => render(&page),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
pub struct InvitationForm {
    role: String,
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    valid_days: String,
    #[serde(default)]
    note: String,
}

pub async fn create_invitation(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Form(form): Form<InvitationForm>,
) -> Response {
    let locale = ctx.locale;
    let result = async {
        let role = Role::parse(&form.role)?;
        let max_uses = form.max_uses.trim().parse().unwrap_or(50);
        let valid_days = form.valid_days.trim().parse().unwrap_or(7);
        invitations::create(
            &state,
            &member.membership,
            role,
            max_uses,
            valid_days,
            optional(&form.note),
            &client,
        )
        .await
    }
    .await;
    let mut page = match members_page(&state, ctx, &member).await {
        Ok(page) => page,
        Err(err) => return err.into_response(),
    };
    match result {
        Ok(created) => {
            page.invitations = invitations::list(&state.db, &member.org.id)
                .await
                .unwrap_or_default();
            page.created = Some(created);
            render(&page)
        }
        Err(err) => {
            let err = ApiError::from(err);
            page.errors = FormErrors::from_error(&err, locale);
            render_with_status(err.status, &page)
        }
    }
}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    match invitations::revoke(&state, &member.membership, &id).await {
        Ok(()) => Redirect::to("/admin/members").into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

// ---- one member ----

#[derive(Template)]
#[template(path = "admin_member.html")]
struct MemberPage {
    ctx: PageContext,
    subject: Member,
    others: Vec<Member>,
    departments: Vec<Department>,
    devices: Vec<DeviceView>,
    errors: FormErrors,
}

async fn member_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    user_id: &str,
    errors: FormErrors,
) -> Result<MemberPage, ApiError> {
    let subject = members::get(&state.db, &member.org.id, user_id).await?;
    let others = members::list(&state.db, &member.org.id)
        .await?
        .into_iter()
        .filter(|m| m.user_id != user_id)
        .collect();
    Ok(MemberPage {
        ctx,
        subject,
        others,
        departments: departments::list(&state.db, &member.org.id).await?,
        devices: sessions::list_devices(state, user_id, None).await?,
        errors,
    })
}

pub async fn member(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(user_id): Path<String>,
) -> Response {
    if let Err(r) = require_admin(&member) {
        return r;
    }
    match member_page(&state, ctx, &member, &user_id, FormErrors::none()).await {
        Ok(page) => render(&page),
        Err(err) => err.into_response(),
    }
}

/// After a change to one member: back to their page, or the page again
/// with the refusal.
async fn member_after(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    user_id: &str,
    result: Result<(), ApiError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/admin/members/{user_id}")).into_response(),
        Err(err) => {
            let errors = FormErrors::from_error(&err, ctx.locale);
            match member_page(state, ctx, member, user_id, errors).await {
                Ok(page) => render_with_status(err.status, &page),
                Err(_) => err.into_response(),
            }
        }
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    let result = async {
        let role = Role::parse(&form.role)?;
        members::set_role(&state, &member.membership, &user_id, role, &client).await
    }
    .await
    .map_err(ApiError::from);
    member_after(&state, ctx, &member, &user_id, result).await
}

#[derive(Deserialize)]
pub struct ManagerForm {
    #[serde(default)]
    manager_user_id: String,
}

pub async fn set_manager(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
    Form(form): Form<ManagerForm>,
) -> Response {
    let result = members::set_manager(
        &state,
        &member.membership,
        &user_id,
        optional(&form.manager_user_id),
        &client,
    )
    .await
    .map_err(ApiError::from);
    member_after(&state, ctx, &member, &user_id, result).await
}

#[derive(Deserialize)]
pub struct PlacementForm {
    #[serde(default)]
    department_id: String,
    #[serde(default)]
    title: String,
}

pub async fn set_placement(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
    Form(form): Form<PlacementForm>,
) -> Response {
    let result = members::set_placement(
        &state,
        &member.membership,
        &user_id,
        optional(&form.department_id),
        optional(&form.title),
        &client,
    )
    .await
    .map_err(ApiError::from);
    member_after(&state, ctx, &member, &user_id, result).await
}

pub async fn remove_member(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
) -> Response {
    match members::remove(&state, &member.membership, &user_id, &client).await {
        Ok(()) => Redirect::to("/admin/members").into_response(),
        Err(err) => member_after(&state, ctx, &member, &user_id, Err(err.into())).await,
    }
}

async fn admin_over(state: &AppState, member: &OrgMember, user_id: &str) -> Result<(), ApiError> {
    member.require_admin()?;
    members::membership(&state.db, &member.org.id, user_id)
        .await?
        .ok_or(OrgError::NotMember)?;
    Ok(())
}

pub async fn remove_device(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path((user_id, device_id)): Path<(String, String)>,
) -> Response {
    let result = async {
        admin_over(&state, &member, &user_id).await?;
        let actor = Actor {
            user_id: &member.auth.user_id,
            org_id: Some(&member.org.id),
            client: &client,
        };
        sessions::remove_device(&state, &user_id, &device_id, &actor)
            .await
            .map_err(ApiError::from)
    }
    .await;
    member_after(&state, ctx, &member, &user_id, result).await
}

pub async fn remove_session(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path((user_id, session_id)): Path<(String, String)>,
) -> Response {
    let result = async {
        admin_over(&state, &member, &user_id).await?;
        let actor = Actor {
            user_id: &member.auth.user_id,
            org_id: Some(&member.org.id),
            client: &client,
        };
        sessions::remove_session(&state, &user_id, &session_id, &actor)
            .await
            .map_err(ApiError::from)
    }
    .await;
    member_after(&state, ctx, &member, &user_id, result).await
}

// ---- departments ----

#[derive(Template)]
#[template(path = "admin_departments.html")]
struct DepartmentsPage {
    ctx: PageContext,
    departments: Vec<DepartmentRow>,
    members: Vec<Member>,
    errors: FormErrors,
}

/// A department with its place in the tree, ready to show.
struct DepartmentRow {
    department: Department,
    /// Left margin of the row, in pixels.
    indent_px: usize,
    /// Full-width spaces before the name in select lists.
    prefix: String,
}

async fn departments_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    errors: FormErrors,
) -> Result<DepartmentsPage, ApiError> {
    let list = departments::list(&state.db, &member.org.id).await?;
    let depths = departments::depths(&list);
    Ok(DepartmentsPage {
        ctx,
        departments: list
            .into_iter()
            .zip(depths)
            .map(|(department, depth)| DepartmentRow {
                department,
                indent_px: depth * 24,
                prefix: "\u{3000}".repeat(depth),
            })
            .collect(),
        members: members::list(&state.db, &member.org.id).await?,
        errors,
    })
}

pub async fn departments(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
) -> Response {
    if let Err(r) = require_admin(&member) {
        return r;
    }
    match departments_page(&state, ctx, &member, FormErrors::none()).await {
        Ok(page) => render(&page),
        Err(err) => err.into_response(),
    }
}

async fn departments_after(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    result: Result<(), OrgError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to("/admin/departments").into_response(),
        Err(err) => {
            let err = ApiError::from(err);
            let errors = FormErrors::from_error(&err, ctx.locale);
            match departments_page(state, ctx, member, errors).await {
                Ok(page) => render_with_status(err.status, &page),
                Err(_) => err.into_response(),
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DepartmentForm {
    name: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    head_user_id: String,
}

impl DepartmentForm {
    fn input(&self) -> DepartmentInput<'_> {
        DepartmentInput {
            name: &self.name,
            parent_id: optional(&self.parent_id),
            head_user_id: optional(&self.head_user_id),
        }
    }
}

pub async fn create_department(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Form(form): Form<DepartmentForm>,
) -> Response {
    let result = departments::create(&state, &member.membership, form.input(), &client)
        .await
        .map(|_| ());
    departments_after(&state, ctx, &member, result).await
}

pub async fn update_department(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path(id): Path<String>,
    Form(form): Form<DepartmentForm>,
) -> Response {
    let result = departments::update(&state, &member.membership, &id, form.input(), &client).await;
    departments_after(&state, ctx, &member, result).await
}

pub async fn delete_department(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Response {
    let result = departments::delete(&state, &member.membership, &id, &client).await;
    departments_after(&state, ctx, &member, result).await
}

// ---- devices ----

#[derive(Template)]
#[template(path = "admin_devices.html")]
struct DevicesPage {
    ctx: PageContext,
    require_approval: bool,
    requests: Vec<DeviceRequest>,
}

pub async fn devices(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
) -> Response {
    match device_policy::requests(&state, &member.membership).await {
        Ok(requests) => render(&DevicesPage {
            ctx,
            require_approval: member.org.require_device_approval,
            requests,
        }),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    require_device_approval: String,
}

pub async fn set_policy(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Form(form): Form<PolicyForm>,
) -> Response {
    let require = !form.require_device_approval.is_empty();
    match device_policy::set_policy(&state, &member.membership, require, &client).await {
        Ok(()) => Redirect::to("/admin/devices").into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

pub async fn decide_device(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((device_id, decision)): Path<(String, String)>,
) -> Response {
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match device_policy::decide(&state, &member.membership, &device_id, approve, &client).await {
        Ok(()) => Redirect::to("/admin/devices").into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

// ---- audit log ----

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    ctx: PageContext,
    events: Vec<AuditEvent>,
    members: Vec<Member>,
    kinds: &'static [&'static str],
    query: AuditQuery,
    next_before: String,
    errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    user_id: String,
    /// `YYYY-MM-DD`, Hong Kong time.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

impl AuditPage {
    fn label(&self, kind: &str) -> &'static str {
        self.ctx.t(&kind_label(kind))
    }
}

/// A readable label key for an event kind.
pub fn kind_label(kind: &str) -> String {
    format!("org.page.audit.kinds.{}", kind.replace('.', "_"))
}

pub async fn audit(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Query(query): Query<AuditQuery>,
) -> Response {
    if let Err(r) = require_admin(&member) {
        return r;
    }
    let members = members::list(&state.db, &member.org.id)
        .await
        .unwrap_or_default();
    let range = (
        tram_platform::clock::hk_midnight(&query.from),
        tram_platform::clock::hk_midnight(&query.to),
    );
    let (from, to) = match range {
        (Ok(from), Ok(to)) => (from, to.map(|t| t + 86_400_000)),
        _ => {
            let err = ApiError::bad_request("invalid_date", "org.page.audit.bad_date")
                .field("from", tram_platform::Msg::new("org.page.audit.bad_date"));
            let errors = FormErrors::from_error(&err, ctx.locale);
            let page = AuditPage {
                ctx,
                events: Vec::new(),
                members,
                kinds: kind::ALL,
                query,
                next_before: String::new(),
                errors,
            };
            return render_with_status(StatusCode::BAD_REQUEST, &page);
        }
    };
    let filter = AuditFilter {
        kind: optional(&query.kind).map(str::to_string),
        user_id: optional(&query.user_id).map(str::to_string),
        from,
        to,
        before: optional(&query.before).map(str::to_string),
        limit: Some(100),
    };
    match audit_view::list(&state.db, &member.org.id, &filter).await {
        Ok(events) => {
            let next_before = if events.len() == 100 {
                events.last().map(|e| e.id.clone()).unwrap_or_default()
            } else {
                String::new()
            };
            render(&AuditPage {
                ctx,
                events,
                members,
                kinds: kind::ALL,
                query,
                next_before,
                errors: FormErrors::none(),
            })
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}
