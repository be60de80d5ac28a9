//! User accounts: the person behind a phone number or e-mail address.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tram_platform::args;
use tram_platform::db::{is_unique_violation, new_id, Db, Row as DbRow};

use crate::contact::Contact;
use crate::error::{AccountError, AccountResult};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub locale: String,
    pub time_zone: String,
    pub two_factor_enabled: bool,
    pub is_server_admin: bool,
    pub created_at: i64,
}

/// The columns [`User`] is read from, in every query that reads one.
pub(crate) const USER_COLUMNS: &str =
    "id, display_name, phone, email, locale, time_zone, totp_enabled_at, is_server_admin, created_at";

pub(crate) fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        locale: row.try_get("locale")?,
        time_zone: row.try_get("time_zone")?,
        two_factor_enabled: row.try_get::<Option<i64>>("totp_enabled_at")?.is_some(),
        is_server_admin: row.try_get::<i64>("is_server_admin")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

pub struct NewUser<'a> {
    pub display_name: &'a str,
    pub contact: &'a Contact,
    pub password_hash: &'a str,
    pub locale: &'a str,
    pub is_server_admin: bool,
}

pub fn check_display_name(name: &str) -> AccountResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AccountError::InvalidName);
    }
    Ok(name.to_string())
}

/// Creates the account; `AccountExists` if the phone or e-mail is taken.
pub async fn create(conn: &mut AnyConnection, now: i64, new: NewUser<'_>) -> AccountResult<User> {
    let id = new_id();
    let (phone, email) = match new.contact {
        Contact::Phone(p) => (Some(p.as_str()), None),
        Contact::Email(e) => (None, Some(e.as_str())),
    };
    let result = sqlx::query(
        "INSERT INTO users (id, display_name, phone, email, password_hash, locale, is_server_admin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(new.display_name)
    .bind(phone)
    .bind(email)
    .bind(new.password_hash)
    .bind(new.locale)
    .bind(new.is_server_admin as i64)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(AccountError::AccountExists),
        Err(e) => return Err(e.into()),
    }
    Ok(User {
        id,
        display_name: new.display_name.to_string(),
        phone: phone.map(str::to_string),
        email: email.map(str::to_string),
        locale: new.locale.to_string(),
        time_zone: "Asia/Hong_Kong".into(),
        two_factor_enabled: false,
        is_server_admin: new.is_server_admin,
        created_at: now,
    })
}

pub async fn get(db: &Db, id: &str) -> AccountResult<User> {
    let row = db
        .read_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND disabled_at IS NULL"),
            args![id],
        )
        .await?
        .ok_or(AccountError::NotFound)?;
    Ok(user_from_row(&row)?)
}

/// The account and its password hash, for a login attempt.
pub async fn find_for_login(
    db: &Db,
    contact: &Contact,
) -> AccountResult<Option<(User, Option<String>)>> {
    let column = match contact {
        Contact::Phone(_) => "phone",
        Contact::Email(_) => "email",
    };
    let row = db
        .read_row(
            &format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE {column} = $1 AND disabled_at IS NULL"
            ),
            args![contact.value()],
        )
        .await?;
    match row {
        Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
        None => Ok(None),
    }
}

pub async fn any_exist(db: &Db) -> AccountResult<bool> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

pub async fn set_password_hash(
    conn: &mut AnyConnection,
    now: i64,
    user_id: &str,
    hash: &str,
) -> AccountResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Changes the user's name and language (which their sessions show).
pub async fn update_profile(
    state: &tram_platform::AppState,
    now: i64,
    user_id: &str,
    display_name: &str,
    locale: &str,
) -> AccountResult<()> {
    let name = check_display_name(display_name)?;
    let locale = tram_platform::i18n::Locale::parse(locale).unwrap_or_default();
    sqlx::query("UPDATE users SET display_name = $1, locale = $2, updated_at = $3 WHERE id = $4")
        .bind(name)
        .bind(locale.tag())
        .bind(now)
        .bind(user_id)
        .execute(state.db.write())
        .await?;
    crate::sessions::forget_known(state);
    Ok(())
}

pub async fn password_hash(db: &Db, user_id: &str) -> AccountResult<Option<String>> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.read())
        .await?
        .ok_or(AccountError::NotFound)?;
    Ok(row.try_get("password_hash")?)
}
