//! Getting in for the first time: the first-run setup that creates the
//! first organisation and its owner (the server's admin), and registration
//! with a verified phone or e-mail, optionally creating an organisation or
//! joining one by invitation. Everything is checked before anything is
//! written, and everything is written in one transaction.

use tram_accounts::codes::{self, Purpose};
use tram_accounts::contact::Contact;
use tram_accounts::password::Passwords;
use tram_accounts::sessions::{self, LoginMethod, NewSession};
use tram_accounts::users::{self, NewUser, User};
use tram_accounts::{login, AccountError};
use tram_platform::audit::{self, kind};
use tram_platform::db::is_unique_violation;
use tram_platform::i18n::Locale;
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{OrgError, OrgResult};
use crate::{invitations, members, orgs};

/// True until the first-run setup has been done.
pub async fn setup_needed(state: &AppState) -> OrgResult<bool> {
    Ok(!users::any_exist(&state.db).await?)
}

pub struct SetupInput<'a> {
    pub org_name: &'a str,
    pub display_name: &'a str,
    pub contact: Contact,
    pub password: &'a str,
    pub locale: Locale,
}

pub struct Onboarded {
    pub user: User,
    pub session: NewSession,
    pub org_id: Option<String>,
}

/// First run: the first organisation and its owner, who also administers
/// the server. Refused once any account exists.
pub async fn first_run(
    state: &AppState,
    input: SetupInput<'_>,
    device_key: &str,
    client: &ClientInfo,
) -> OrgResult<Onboarded> {
    let org_name = orgs::check_name(input.org_name)?;
    let display_name = users::check_display_name(input.display_name)?;
    Passwords::check_policy(input.password)?;
    if !setup_needed(state).await? {
        return Err(OrgError::SetupDone);
    }
    let hash = login::passwords(state).hash(input.password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let marked = sqlx::query("INSERT INTO instance_settings (setting_key, setting_value) VALUES ('setup_completed_at', $1)")
        .bind(now.to_string())
        .execute(&mut *tx)
        .await;
    match marked {
        Err(e) if is_unique_violation(&e) => return Err(OrgError::SetupDone),
        other => {
            other?;
        }
    }
    let user = users::create(
        &mut tx,
        now,
        NewUser {
            display_name: &display_name,
            contact: &input.contact,
            password_hash: &hash,
            locale: input.locale.tag(),
            is_server_admin: true,
        },
    )
    .await?;
    record_register(&mut tx, now, &user, client, "setup").await?;
    let org = orgs::create(&mut tx, now, &org_name, &user.id, client).await?;
    let session = start_session(state, &mut tx, now, &user, device_key, client).await?;
    tx.commit().await?;
    sessions::set_current_org(state, &session.session_id, &org.id).await?;
    Ok(Onboarded {
        user,
        session,
        org_id: Some(org.id),
    })
}

pub struct RegisterInput<'a> {
    pub contact: Contact,
    pub code: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub company_name: Option<&'a str>,
    pub invitation_code: Option<&'a str>,
    pub locale: Locale,
}

/// Registers a new account with a verified code. With a company name a new
/// organisation is created with the user as owner; with an invitation code
/// the user joins that organisation instead.
pub async fn register(
    state: &AppState,
    input: RegisterInput<'_>,
    device_key: &str,
    client: &ClientInfo,
) -> OrgResult<Onboarded> {
    let now = state.clock.now_ms();
    let display_name = users::check_display_name(input.display_name)?;
    Passwords::check_policy(input.password)?;
    let company = input.company_name.map(str::trim).filter(|c| !c.is_empty());
    let invitation = input
        .invitation_code
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if let Some(company) = company {
        orgs::check_name(company)?;
    }
    if let Some(code) = invitation {
        invitations::peek(&state.db, now, code).await?;
    }
    codes::consume(
        state,
        Purpose::Register,
        input.contact.value(),
        input.code,
        client,
    )
    .await?;
    let hash = login::passwords(state).hash(input.password).await?;

    let mut tx = state.db.begin().await?;
    let user = users::create(
        &mut tx,
        now,
        NewUser {
            display_name: &display_name,
            contact: &input.contact,
            password_hash: &hash,
            locale: input.locale.tag(),
            is_server_admin: false,
        },
    )
    .await?;
    record_register(
        &mut tx,
        now,
        &user,
        client,
        if input.contact.value().contains('@') {
            "email"
        } else {
            "sms"
        },
    )
    .await?;
    let org_id = if let Some(code) = invitation {
        let (org_id, role) = invitations::redeem(&mut tx, now, code).await?;
        members::join(&mut tx, now, &org_id, &user.id, role, client).await?;
        Some(org_id)
    } else if let Some(company) = company {
        Some(
            orgs::create(&mut tx, now, company, &user.id, client)
                .await?
                .id,
        )
    } else {
        None
    };
    let session = start_session(state, &mut tx, now, &user, device_key, client).await?;
    tx.commit().await?;
    if let Some(org_id) = &org_id {
        sessions::set_current_org(state, &session.session_id, org_id).await?;
    }
    Ok(Onboarded {
        user,
        session,
        org_id,
    })
}

/// Joins an organisation by invitation as an existing, logged-in user.
pub async fn join(
    state: &AppState,
    user_id: &str,
    code: &str,
    client: &ClientInfo,
) -> OrgResult<String> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let (org_id, role) = invitations::redeem(&mut tx, now, code).await?;
    members::join(&mut tx, now, &org_id, user_id, role, client).await?;
    tx.commit().await?;
    Ok(org_id)
}

/// Creates another organisation, owned by an existing user.
pub async fn create_org(
    state: &AppState,
    user_id: &str,
    name: &str,
    client: &ClientInfo,
) -> OrgResult<String> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let org = orgs::create(&mut tx, now, name, user_id, client).await?;
    tx.commit().await?;
    Ok(org.id)
}

async fn start_session(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    now: i64,
    user: &User,
    device_key: &str,
    client: &ClientInfo,
) -> Result<NewSession, AccountError> {
    let ttl = state.config.security.session_ttl_days * 86_400_000;
    sessions::start(
        conn,
        now,
        ttl,
        user,
        device_key,
        LoginMethod::Registration,
        client,
        false,
    )
    .await
}

async fn record_register(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    user: &User,
    client: &ClientInfo,
    via: &str,
) -> OrgResult<()> {
    audit::record(
        conn,
        now,
        audit::NewEvent {
            kind: kind::REGISTER,
            user_id: Some(&user.id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "via": via }),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}
