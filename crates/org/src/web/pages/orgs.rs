//! My organisations (switch, create, join) and the contacts directory.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tram_accounts::sessions;
use tram_accounts::AuthUser;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{render, ClientInfo, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use crate::departments::{self, Department};
use crate::members::{self, Member};
use crate::onboarding;
use crate::orgs::{self, MyOrg};
use crate::web::access::OrgMember;

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    ctx: PageContext,
    orgs: Vec<MyOrg>,
    current: String,
    device_notice: bool,
    errors: FormErrors,
}

impl OrgsPage {
    fn role_label(&self, role: &str) -> &'static str {
        self.ctx.t(&format!("org.page.roles.{role}"))
    }
}

#[derive(Deserialize, Default)]
pub struct OrgsQuery {
    #[serde(default)]
    device: String,
}

async fn orgs_page(
    state: &AppState,
    ctx: PageContext,
    auth: &AuthUser,
    device_notice: bool,
    errors: FormErrors,
) -> Result<OrgsPage, ApiError> {
    let orgs = orgs::list_for_user(&state.db, &auth.user_id).await?;
    Ok(OrgsPage {
        ctx,
        current: auth
            .org_id
            .clone()
            .or_else(|| orgs.first().map(|o| o.id.clone()))
            .unwrap_or_default(),
        orgs,
        device_notice,
        errors,
    })
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    Query(q): Query<OrgsQuery>,
) -> Response {
    match orgs_page(
        &state,
        ctx,
        &auth,
        q.device == "pending",
        FormErrors::none(),
    )
    .await
    {
        Ok(page) => render(&page),
        Err(err) => err.into_response(),
    }
}

async fn after(
    state: &AppState,
    ctx: PageContext,
    auth: &AuthUser,
    result: Result<String, crate::OrgError>,
) -> Response {
    match result {
        Ok(org_id) => match sessions::set_current_org(state, &auth.session_id, &org_id).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(err) => ApiError::from(err).into_response(),
        },
        Err(err) => {
            let err = ApiError::from(err);
            let errors = FormErrors::from_error(&err, ctx.locale);
            match orgs_page(state, ctx, auth, false, errors).await {
                Ok(page) => render_with_status(err.status, &page),
                Err(err) => err.into_response(),
            }
        }
    }
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Form(form): Form<CreateForm>,
) -> Response {
    let result = onboarding::create_org(&state, &auth.user_id, &form.name, &client).await;
    after(&state, ctx, &auth, result).await
}

#[derive(Deserialize)]
pub struct JoinForm {
    invitation_code: String,
}

pub async fn join(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Form(form): Form<JoinForm>,
) -> Response {
    let result = onboarding::join(&state, &auth.user_id, &form.invitation_code, &client).await;
    after(&state, ctx, &auth, result).await
}

pub async fn switch(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Response {
    let result = match members::membership(&state.db, &id, &auth.user_id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(crate::OrgError::NotMember),
        Err(err) => Err(err),
    };
    after(&state, ctx, &auth, result).await
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ContactsPage {
    ctx: PageContext,
    members: Vec<Member>,
    departments: Vec<Department>,
    department: String,
    q: String,
    me: String,
}

#[derive(Deserialize, Default)]
pub struct ContactsQuery {
    #[serde(default)]
    department: String,
    #[serde(default)]
    q: String,
}

pub async fn contacts(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Query(query): Query<ContactsQuery>,
) -> Response {
    let result = async {
        let all = members::list(&state.db, &member.org.id).await?;
        let departments = departments::list(&state.db, &member.org.id).await?;
        Ok::<_, crate::OrgError>((all, departments))
    }
    .await;
    let (all, departments) = match result {
        Ok(found) => found,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let needle = query.q.trim().to_lowercase();
    let members = all
        .into_iter()
        .filter(|m| {
            query.department.is_empty()
                || m.department_id.as_deref() == Some(query.department.as_str())
        })
        .filter(|m| {
            needle.is_empty()
                || m.display_name.to_lowercase().contains(&needle)
                || m.email.as_deref().unwrap_or("").contains(&needle)
                || m.phone.as_deref().unwrap_or("").contains(&needle)
                || m.title
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&needle)
        })
        .collect();
    render(&ContactsPage {
        ctx,
        members,
        departments,
        department: query.department,
        q: query.q,
        me: member.auth.user_id,
    })
}
