//! The organisation JSON API under `/api/v1/`: setup, registration,
//! my organisations, and the admin's members, departments, invitations,
//! device approvals and audit log.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use tram_accounts::contact::{parse_email, parse_mobile, Channel, Contact};
use tram_accounts::login::{LoginOutcome, LoginResult};
use tram_accounts::sessions::{self, Actor, DeviceView};
use tram_accounts::web::api::{login_response, parse_destination, Done, LocaleExt};
use tram_accounts::web::device_key;
use tram_accounts::AuthUser;
use tram_platform::error::ErrorBody;
use tram_platform::web::ClientInfo;
use tram_platform::{ApiError, ApiResult, AppState};
use utoipa::{OpenApi, ToSchema};

use super::access::OrgMember;
use crate::audit_view::{self, AuditEvent, AuditFilter};
use crate::departments::{self, Department, DepartmentInput};
use crate::device_policy::{self, DeviceRequest};
use crate::error::OrgError;
use crate::invitations::{self, Invitation, NewInvitation};
use crate::members::{self, Member, Role};
use crate::onboarding::{self, Onboarded, RegisterInput, SetupInput};
use crate::orgs::{self, MyOrg, Org};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/setup", get(setup_status).post(setup))
        .route("/api/v1/register", post(register))
        .route("/api/v1/orgs", get(my_orgs).post(create_org))
        .route("/api/v1/orgs/join", post(join_org))
        .route("/api/v1/orgs/{id}/switch", post(switch_org))
        .route("/api/v1/org", get(current_org))
        .route("/api/v1/org/policy", put(set_policy))
        .route("/api/v1/org/members", get(list_members))
        .route(
            "/api/v1/org/members/{user_id}",
            get(get_member).delete(remove_member),
        )
        .route("/api/v1/org/members/{user_id}/role", put(set_role))
        .route("/api/v1/org/members/{user_id}/manager", put(set_manager))
        .route(
            "/api/v1/org/members/{user_id}/placement",
            put(set_placement),
        )
        .route("/api/v1/org/members/{user_id}/devices", get(member_devices))
        .route(
            "/api/v1/org/members/{user_id}/devices/{device_id}",
            patch(rename_member_device).delete(remove_member_device),
        )
        .route(
            "/api/v1/org/members/{user_id}/sessions/{session_id}",
            delete(remove_member_session),
        )
        .route(
            "/api/v1/org/departments",
            get(list_departments).post(create_department),
        )
        .route(
            "/api/v1/org/departments/{id}",
            put(update_department).delete(delete_department),
        )
        .route(
            "/api/v1/org/invitations",
            get(list_invitations).post(create_invitation),
        )
        .route("/api/v1/org/invitations/{id}", delete(revoke_invitation))
        .route("/api/v1/org/device-requests", get(device_requests))
        .route(
            "/api/v1/org/device-requests/{device_id}",
            post(decide_device),
        )
        .route("/api/v1/org/audit", get(audit_log))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        setup_status, setup, register, my_orgs, create_org, join_org, switch_org, current_org, set_policy,
        list_members, get_member, remove_member, set_role, set_manager, set_placement, member_devices,
        rename_member_device, remove_member_device, remove_member_session, list_departments, create_department, update_department,
        delete_department, list_invitations, create_invitation, revoke_invitation, device_requests, decide_device, audit_log
    ),
    components(schemas(Org, MyOrg, Member, Role, Department, Invitation, NewInvitation, DeviceRequest, AuditEvent)),
    tags((name = "org", description = "First-run setup, registration, organisations, members, departments, invitations, device approval, audit log"))
)]
pub struct OrgApi;

fn onboarded_response(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    done: Onboarded,
) -> Response {
    login_response(
        state,
        jar,
        headers,
        LoginOutcome::LoggedIn {
            user: done.user,
            session: done.session,
        },
    )
}

#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// True until the first organisation and its owner exist.
    pub needed: bool,
}

/// Whether first-run setup is still to be done.
#[utoipa::path(get, path = "/api/v1/setup", tag = "org", responses((status = 200, body = SetupStatus)))]
async fn setup_status(State(state): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        needed: onboarding::setup_needed(&state).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetupRequest {
    pub org_name: String,
    pub display_name: String,
    /// The owner's e-mail (give this or `phone`).
    pub email: Option<String>,
    /// The owner's mobile number.
    pub phone: Option<String>,
    pub password: String,
}

/// Contact from optional e-mail / phone fields: e-mail wins if both given.
pub fn contact_from(email: Option<&str>, phone: Option<&str>) -> Result<Contact, ApiError> {
    match (
        email.map(str::trim).filter(|e| !e.is_empty()),
        phone.map(str::trim).filter(|p| !p.is_empty()),
    ) {
        (Some(email), _) => Ok(Contact::Email(parse_email(email)?)),
        (None, Some(phone)) => Ok(Contact::Phone(parse_mobile(phone)?)),
        (None, None) => Err(tram_accounts::AccountError::InvalidEmail.into()),
    }
}

/// First-run setup: creates the first organisation and its owner, and logs
/// the owner in. Refused once any account exists.
#[utoipa::path(post, path = "/api/v1/setup", tag = "org", request_body = SetupRequest,
    responses((status = 200, body = LoginResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    locale: LocaleExt,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Json(body): Json<SetupRequest>,
) -> ApiResult<Response> {
    let contact = contact_from(body.email.as_deref(), body.phone.as_deref())?;
    let device = device_key(&headers);
    let input = SetupInput {
        org_name: &body.org_name,
        display_name: &body.display_name,
        contact,
        password: &body.password,
        locale: locale.0,
    };
    let done = onboarding::first_run(&state, input, &device.key, &client).await?;
    Ok(onboarded_response(&state, jar, &headers, done))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub channel: Channel,
    /// Mobile number (for `sms`) or e-mail address (for `email`).
    pub destination: String,
    /// The 6-digit code sent by `POST /api/v1/codes` with purpose `register`.
    pub code: String,
    pub display_name: String,
    pub password: String,
    /// Creates a new organisation with the user as owner.
    pub company_name: Option<String>,
    /// Joins an existing organisation instead.
    pub invitation_code: Option<String>,
}

/// Register with a verified phone or e-mail (and log in).
#[utoipa::path(post, path = "/api/v1/register", tag = "org", request_body = RegisterRequest,
    responses((status = 200, body = LoginResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    locale: LocaleExt,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    let contact = parse_destination(body.channel, &body.destination)?;
    let device = device_key(&headers);
    let input = RegisterInput {
        contact,
        code: &body.code,
        display_name: &body.display_name,
        password: &body.password,
        company_name: body.company_name.as_deref(),
        invitation_code: body.invitation_code.as_deref(),
        locale: locale.0,
    };
    let done = onboarding::register(&state, input, &device.key, &client).await?;
    Ok(onboarded_response(&state, jar, &headers, done))
}

/// The organisations I belong to.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "org", responses((status = 200, body = Vec<MyOrg>), (status = 401, body = ErrorBody)))]
async fn my_orgs(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Vec<MyOrg>>> {
    Ok(Json(orgs::list_for_user(&state.db, &auth.user_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrgRequest {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrgRef {
    pub org_id: String,
}

/// Create another organisation (I become its owner and work in it).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "org", request_body = NewOrgRequest, responses((status = 200, body = OrgRef), (status = 400, body = ErrorBody)))]
async fn create_org(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(body): Json<NewOrgRequest>,
) -> ApiResult<Json<OrgRef>> {
    let org_id = onboarding::create_org(&state, &auth.user_id, &body.name, &client).await?;
    sessions::set_current_org(&state, &auth.session_id, &org_id).await?;
    Ok(Json(OrgRef { org_id }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinRequest {
    pub invitation_code: String,
}

/// Join an organisation with an invitation code (and work in it).
#[utoipa::path(post, path = "/api/v1/orgs/join", tag = "org", request_body = JoinRequest, responses((status = 200, body = OrgRef), (status = 400, body = ErrorBody)))]
async fn join_org(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(body): Json<JoinRequest>,
) -> ApiResult<Json<OrgRef>> {
    let org_id = onboarding::join(&state, &auth.user_id, &body.invitation_code, &client).await?;
    sessions::set_current_org(&state, &auth.session_id, &org_id).await?;
    Ok(Json(OrgRef { org_id }))
}

/// Work in another of my organisations.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/switch", tag = "org", params(("id" = String, Path)), responses((status = 200, body = OrgRef), (status = 404, body = ErrorBody)))]
async fn switch_org(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<OrgRef>> {
    members::membership(&state.db, &id, &auth.user_id)
        .await?
        .ok_or(OrgError::NotMember)?;
    sessions::set_current_org(&state, &auth.session_id, &id).await?;
    Ok(Json(OrgRef { org_id: id }))
}

#[derive(Serialize, ToSchema)]
pub struct CurrentOrg {
    pub org: Org,
    pub role: Role,
}

/// The organisation this session works in, and my role there.
#[utoipa::path(get, path = "/api/v1/org", tag = "org", responses((status = 200, body = CurrentOrg), (status = 403, body = ErrorBody)))]
async fn current_org(member: OrgMember) -> ApiResult<Json<CurrentOrg>> {
    Ok(Json(CurrentOrg {
        role: member.membership.role,
        org: member.org,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PolicyRequest {
    /// Only devices an admin approved may reach the org.
    pub require_device_approval: bool,
}

/// Set the org's device policy (admins).
#[utoipa::path(put, path = "/api/v1/org/policy", tag = "org", request_body = PolicyRequest, responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn set_policy(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Json(body): Json<PolicyRequest>,
) -> ApiResult<Json<Done>> {
    device_policy::set_policy(
        &state,
        &member.membership,
        body.require_device_approval,
        &client,
    )
    .await?;
    Ok(Json(Done { ok: true }))
}

/// Members of my organisation (the directory; every member may read it).
#[utoipa::path(get, path = "/api/v1/org/members", tag = "org", responses((status = 200, body = Vec<Member>)))]
async fn list_members(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(members::list(&state.db, &member.org.id).await?))
}

/// One member.
#[utoipa::path(get, path = "/api/v1/org/members/{user_id}", tag = "org", params(("user_id" = String, Path)),
    responses((status = 200, body = Member), (status = 404, body = ErrorBody)))]
async fn get_member(
    State(state): State<AppState>,
    member: OrgMember,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Member>> {
    Ok(Json(
        members::get(&state.db, &member.org.id, &user_id).await?,
    ))
}

/// Remove a member from the organisation (admins).
#[utoipa::path(delete, path = "/api/v1/org/members/{user_id}", tag = "org", params(("user_id" = String, Path)),
    responses((status = 200, body = Done), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Done>> {
    members::remove(&state, &member.membership, &user_id, &client).await?;
    Ok(Json(Done { ok: true }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    pub role: Role,
}

/// Set a member's role (admins; owner changes by owners only).
#[utoipa::path(put, path = "/api/v1/org/members/{user_id}/role", tag = "org", params(("user_id" = String, Path)), request_body = RoleRequest,
    responses((status = 200, body = Done), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn set_role(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
    Json(body): Json<RoleRequest>,
) -> ApiResult<Json<Done>> {
    members::set_role(&state, &member.membership, &user_id, body.role, &client).await?;
    Ok(Json(Done { ok: true }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ManagerRequest {
    /// `null` clears the manager.
    pub manager_user_id: Option<String>,
}

/// Set a member's manager (admins). Loops are refused.
#[utoipa::path(put, path = "/api/v1/org/members/{user_id}/manager", tag = "org", params(("user_id" = String, Path)), request_body = ManagerRequest,
    responses((status = 200, body = Done), (status = 400, body = ErrorBody)))]
async fn set_manager(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
    Json(body): Json<ManagerRequest>,
) -> ApiResult<Json<Done>> {
    let manager = body.manager_user_id.as_deref().filter(|m| !m.is_empty());
    members::set_manager(&state, &member.membership, &user_id, manager, &client).await?;
    Ok(Json(Done { ok: true }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlacementRequest {
    /// `null` for no department.
    pub department_id: Option<String>,
    pub title: Option<String>,
}

/// Put a member in a department with a job title (admins).
#[utoipa::path(put, path = "/api/v1/org/members/{user_id}/placement", tag = "org", params(("user_id" = String, Path)), request_body = PlacementRequest,
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn set_placement(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(user_id): Path<String>,
    Json(body): Json<PlacementRequest>,
) -> ApiResult<Json<Done>> {
    let department = body.department_id.as_deref().filter(|d| !d.is_empty());
    members::set_placement(
        &state,
        &member.membership,
        &user_id,
        department,
        body.title.as_deref(),
        &client,
    )
    .await?;
    Ok(Json(Done { ok: true }))
}

/// Checks that the caller is an admin and `user_id` is in the same org.
async fn admin_over(state: &AppState, member: &OrgMember, user_id: &str) -> Result<(), ApiError> {
    member.require_admin()?;
    members::membership(&state.db, &member.org.id, user_id)
        .await?
        .ok_or(OrgError::NotMember)?;
    Ok(())
}

/// A member's devices and sessions (admins).
#[utoipa::path(get, path = "/api/v1/org/members/{user_id}/devices", tag = "org", params(("user_id" = String, Path)),
    responses((status = 200, body = Vec<DeviceView>), (status = 403, body = ErrorBody)))]
async fn member_devices(
    State(state): State<AppState>,
    member: OrgMember,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Vec<DeviceView>>> {
    admin_over(&state, &member, &user_id).await?;
    Ok(Json(
        sessions::list_devices(&state, &user_id, Some(&member.auth)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeviceName {
    pub name: String,
}

/// Rename a member's device (admins).
#[utoipa::path(patch, path = "/api/v1/org/members/{user_id}/devices/{device_id}", tag = "org",
    params(("user_id" = String, Path), ("device_id" = String, Path)), request_body = DeviceName,
    responses((status = 200, body = Done), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rename_member_device(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((user_id, device_id)): Path<(String, String)>,
    Json(body): Json<DeviceName>,
) -> ApiResult<Json<Done>> {
    admin_over(&state, &member, &user_id).await?;
    let actor = Actor {
        user_id: &member.auth.user_id,
        org_id: Some(&member.org.id),
        client: &client,
    };
    sessions::rename_device(&state, &user_id, &device_id, &body.name, &actor).await?;
    Ok(Json(Done { ok: true }))
}

/// Remove a member's device: its sessions end at once (admins).
#[utoipa::path(delete, path = "/api/v1/org/members/{user_id}/devices/{device_id}", tag = "org",
    params(("user_id" = String, Path), ("device_id" = String, Path)), responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn remove_member_device(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((user_id, device_id)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    admin_over(&state, &member, &user_id).await?;
    let actor = Actor {
        user_id: &member.auth.user_id,
        org_id: Some(&member.org.id),
        client: &client,
    };
    sessions::remove_device(&state, &user_id, &device_id, &actor).await?;
    Ok(Json(Done { ok: true }))
}

/// End one of a member's sessions (admins).
#[utoipa::path(delete, path = "/api/v1/org/members/{user_id}/sessions/{session_id}", tag = "org",
    params(("user_id" = String, Path), ("session_id" = String, Path)), responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn remove_member_session(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((user_id, session_id)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    admin_over(&state, &member, &user_id).await?;
    let actor = Actor {
        user_id: &member.auth.user_id,
        org_id: Some(&member.org.id),
        client: &client,
    };
    sessions::remove_session(&state, &user_id, &session_id, &actor).await?;
    Ok(Json(Done { ok: true }))
}

/// The department tree, parents before children.
#[utoipa::path(get, path = "/api/v1/org/departments", tag = "org", responses((status = 200, body = Vec<Department>)))]
async fn list_departments(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(departments::list(&state.db, &member.org.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DepartmentRequest {
    pub name: String,
    pub parent_id: Option<String>,
    pub head_user_id: Option<String>,
}

impl DepartmentRequest {
    fn input(&self) -> DepartmentInput<'_> {
        DepartmentInput {
            name: &self.name,
            parent_id: self.parent_id.as_deref().filter(|p| !p.is_empty()),
            head_user_id: self.head_user_id.as_deref().filter(|h| !h.is_empty()),
        }
    }
}

/// Create a department (admins).
#[utoipa::path(post, path = "/api/v1/org/departments", tag = "org", request_body = DepartmentRequest,
    responses((status = 200, body = Department), (status = 400, body = ErrorBody)))]
async fn create_department(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Json(body): Json<DepartmentRequest>,
) -> ApiResult<Json<Department>> {
    Ok(Json(
        departments::create(&state, &member.membership, body.input(), &client).await?,
    ))
}

/// Rename, move or set the head of a department (admins).
#[utoipa::path(put, path = "/api/v1/org/departments/{id}", tag = "org", params(("id" = String, Path)), request_body = DepartmentRequest,
    responses((status = 200, body = Done), (status = 400, body = ErrorBody)))]
async fn update_department(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<DepartmentRequest>,
) -> ApiResult<Json<Done>> {
    departments::update(&state, &member.membership, &id, body.input(), &client).await?;
    Ok(Json(Done { ok: true }))
}

/// Delete an empty department (admins).
#[utoipa::path(delete, path = "/api/v1/org/departments/{id}", tag = "org", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 409, body = ErrorBody)))]
async fn delete_department(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    departments::delete(&state, &member.membership, &id, &client).await?;
    Ok(Json(Done { ok: true }))
}

/// Invitations of the organisation (admins).
#[utoipa::path(get, path = "/api/v1/org/invitations", tag = "org", responses((status = 200, body = Vec<Invitation>), (status = 403, body = ErrorBody)))]
async fn list_invitations(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<Invitation>>> {
    member.require_admin()?;
    Ok(Json(invitations::list(&state.db, &member.org.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InvitationRequest {
    /// `member` (default) or `admin` (owners only).
    pub role: Option<Role>,
    /// How many people may use it (1-1000, default 50).
    pub max_uses: Option<i64>,
    /// Days it stays valid (1-90, default 7).
    pub valid_days: Option<i64>,
    pub note: Option<String>,
}

/// Create an invitation link/code (admins). The code is shown only now.
#[utoipa::path(post, path = "/api/v1/org/invitations", tag = "org", request_body = InvitationRequest,
    responses((status = 200, body = NewInvitation), (status = 403, body = ErrorBody)))]
async fn create_invitation(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Json(body): Json<InvitationRequest>,
) -> ApiResult<Json<NewInvitation>> {
    let created = invitations::create(
        &state,
        &member.membership,
        body.role.unwrap_or(Role::Member),
        body.max_uses.unwrap_or(50),
        body.valid_days.unwrap_or(7),
        body.note.as_deref(),
        &client,
    )
    .await?;
    Ok(Json(created))
}

/// Revoke an invitation (admins).
#[utoipa::path(delete, path = "/api/v1/org/invitations/{id}", tag = "org", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn revoke_invitation(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    invitations::revoke(&state, &member.membership, &id).await?;
    Ok(Json(Done { ok: true }))
}

/// Devices waiting for (or decided by) an admin under the device policy.
#[utoipa::path(get, path = "/api/v1/org/device-requests", tag = "org", responses((status = 200, body = Vec<DeviceRequest>), (status = 403, body = ErrorBody)))]
async fn device_requests(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<DeviceRequest>>> {
    Ok(Json(
        device_policy::requests(&state, &member.membership).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeviceDecision {
    pub approve: bool,
}

/// Approve or refuse a device (admins).
#[utoipa::path(post, path = "/api/v1/org/device-requests/{device_id}", tag = "org", params(("device_id" = String, Path)), request_body = DeviceDecision,
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn decide_device(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(device_id): Path<String>,
    Json(body): Json<DeviceDecision>,
) -> ApiResult<Json<Done>> {
    device_policy::decide(
        &state,
        &member.membership,
        &device_id,
        body.approve,
        &client,
    )
    .await?;
    Ok(Json(Done { ok: true }))
}

/// The security audit log of the organisation (admins), newest first.
#[utoipa::path(get, path = "/api/v1/org/audit", tag = "org", params(AuditFilter),
    responses((status = 200, body = Vec<AuditEvent>), (status = 403, body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    member: OrgMember,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    member.require_admin()?;
    Ok(Json(
        audit_view::list(&state.db, &member.org.id, &filter).await?,
    ))
}
