//! The page shell: who is looking (for the header and navigation), and the
//! security headers every response carries.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tram_accounts::AuthUser;
use tram_org::orgs;
use tram_platform::web::{NavItem, OrgBadge, Shell, UserBadge};
use tram_platform::AppState;

/// Modules that work today, in navigation order. A module is listed here
/// only once it works end to end.
fn main_nav() -> Vec<NavItem> {
    vec![
        NavItem {
            href: "/",
            label_key: "nav.home",
        },
        NavItem {
            href: "/chat",
            label_key: "nav.chat",
        },
        NavItem {
            href: "/contacts",
            label_key: "nav.contacts",
        },
        NavItem {
            href: "/approvals",
            label_key: "nav.approvals",
        },
    ]
}

fn admin_nav(is_org_admin: bool, is_server_admin: bool, dev_mode: bool) -> Vec<NavItem> {
    let mut items = Vec::new();
    if is_org_admin {
        items.push(NavItem {
            href: "/admin/members",
            label_key: "nav.admin_members",
        });
        items.push(NavItem {
            href: "/admin/departments",
            label_key: "nav.admin_departments",
        });
        items.push(NavItem {
            href: "/admin/devices",
            label_key: "nav.admin_devices",
        });
        items.push(NavItem {
            href: "/admin/audit",
            label_key: "nav.admin_audit",
        });
        items.push(NavItem {
            href: "/assistant",
            label_key: "assistant.nav",
        });
    }
    if is_server_admin && dev_mode {
        items.push(NavItem {
            href: "/admin/outbox",
            label_key: "nav.admin_outbox",
        });
    }
    items
}

/// Middleware: builds the `Shell` for page requests of logged-in users.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let is_page =
        !request.uri().path().starts_with("/api/") && !request.uri().path().starts_with("/static/");
    if let (true, Some(auth)) = (is_page, request.extensions().get::<AuthUser>().cloned()) {
        let org = match tram_org::web::access::current_membership(&state, &auth).await {
            Ok(Some(m)) => orgs::get(&state.db, &m.org_id)
                .await
                .ok()
                .map(|org| OrgBadge {
                    id: org.id,
                    name: org.name,
                    role: m.role.as_str().to_string(),
                }),
            _ => None,
        };
        let is_admin = org.as_ref().map(OrgBadge::is_admin).unwrap_or(false);
        let shell = Shell {
            admin_nav: admin_nav(is_admin, auth.is_server_admin, state.config.dev_mode),
            nav: if org.is_some() {
                main_nav()
            } else {
                vec![NavItem {
                    href: "/",
                    label_key: "nav.home",
                }]
            },
            user: Some(UserBadge {
                id: auth.user_id.clone(),
                display_name: auth.display_name.clone(),
                is_server_admin: auth.is_server_admin,
            }),
            org,
        };
        request.extensions_mut().insert(shell);
    }
    next.run(request).await
}

/// Middleware: headers that keep pages from being framed, sniffed or
/// running scripts from anywhere but this server.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY.as_str(),
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
         connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    );
    response
}
