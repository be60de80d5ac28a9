//! The page frame: what every server-rendered page knows about the request
//! (language, CSRF token, who is logged in, their organisation, the
//! navigation) and the one function that turns a template into a response.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::csrf::CsrfToken;
use crate::i18n::Locale;
use crate::{ApiError, AppState};

#[derive(Debug, Clone)]
pub struct UserBadge {
    pub id: String,
    pub display_name: String,
    pub is_server_admin: bool,
}

#[derive(Debug, Clone)]
pub struct OrgBadge {
    pub id: String,
    pub name: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
}

impl OrgBadge {
    pub fn is_admin(&self) -> bool {
        self.role == "owner" || self.role == "admin"
    }
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label_key: &'static str,
}

/// Who is looking at the page, filled in by the server's session middleware
/// (domains below the server cannot see each other, the server can).
#[derive(Debug, Clone, Default)]
pub struct Shell {
    pub user: Option<UserBadge>,
    pub org: Option<OrgBadge>,
    pub nav: Vec<NavItem>,
    pub admin_nav: Vec<NavItem>,
}

#[derive(Debug, Clone)]
pub struct PageContext {
    pub locale: Locale,
    pub csrf: String,
    pub shell: Shell,
    pub dev_mode: bool,
    pub path: String,
}

impl PageContext {
    pub fn t(&self, key: &str) -> &'static str {
        self.locale.t(key)
    }

    pub fn tf(&self, key: &str, name: &str, value: &str) -> String {
        self.locale.tf(key, &[(name, value.to_string())])
    }

    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }

    pub fn is_active(&self, href: &str) -> bool {
        if href == "/" {
            self.path == "/"
        } else {
            self.path.starts_with(href)
        }
    }

    pub fn locales(&self) -> Vec<(&'static str, &'static str)> {
        Locale::ALL
            .iter()
            .map(|l| (l.tag(), l.native_name()))
            .collect()
    }

    pub fn user_name(&self) -> &str {
        self.shell
            .user
            .as_ref()
            .map(|u| u.display_name.as_str())
            .unwrap_or("")
    }

    pub fn org_name(&self) -> &str {
        self.shell
            .org
            .as_ref()
            .map(|o| o.name.as_str())
            .unwrap_or("")
    }

    pub fn logged_in(&self) -> bool {
        self.shell.user.is_some()
    }

    pub fn is_org_admin(&self) -> bool {
        self.shell
            .org
            .as_ref()
            .map(OrgBadge::is_admin)
            .unwrap_or(false)
    }

    pub fn is_server_admin(&self) -> bool {
        self.shell
            .user
            .as_ref()
            .map(|u| u.is_server_admin)
            .unwrap_or(false)
    }

    /// A readable time for a Unix-millisecond timestamp.
    pub fn time(&self, ms: impl std::borrow::Borrow<i64>) -> String {
        crate::clock::display_hk(*ms.borrow())
    }
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageContext {
            locale: parts
                .extensions
                .get::<Locale>()
                .copied()
                .unwrap_or_default(),
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            shell: parts.extensions.get::<Shell>().cloned().unwrap_or_default(),
            dev_mode: state.config.dev_mode,
            path: parts.uri.path().to_string(),
        })
    }
}

/// Renders a template as an HTML response.
pub fn render<T: Template>(template: &T) -> Response {
    render_with_status(StatusCode::OK, template)
}

pub fn render_with_status<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => ApiError::internal(format!("template: {err}")).into_response(),
    }
}
