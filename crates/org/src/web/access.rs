//! `OrgMember`: the logged-in user inside their current organisation, with
//! the org's device policy applied. Every org-scoped handler takes one, so
//! no handler can forget the membership or device check.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use tram_accounts::sessions;
use tram_accounts::AuthUser;
use tram_platform::web::wants_html;
use tram_platform::{ApiError, AppState};

use crate::device_policy;
use crate::error::{OrgError, OrgResult};
use crate::members::{self, Membership};
use crate::orgs::{self, Org};

#[derive(Debug, Clone)]
pub struct OrgMember {
    pub auth: AuthUser,
    pub membership: Membership,
    pub org: Org,
}

impl OrgMember {
    pub fn require_admin(&self) -> OrgResult<()> {
        self.membership.require_admin()
    }
}

/// The org a session works in: the one it chose, else the user's first.
pub async fn current_membership(
    state: &AppState,
    auth: &AuthUser,
) -> OrgResult<Option<Membership>> {
    Ok(current_org(state, auth)
        .await?
        .map(|(membership, _)| membership))
}

/// As [`current_membership`], with the org.
async fn current_org(state: &AppState, auth: &AuthUser) -> OrgResult<Option<(Membership, Org)>> {
    if let Some(org_id) = &auth.org_id {
        if let Some(found) =
            members::membership_with_org_known(state, org_id, &auth.user_id).await?
        {
            return Ok(Some(found));
        }
    }
    let first = orgs::list_for_user(&state.db, &auth.user_id)
        .await?
        .into_iter()
        .next();
    match first {
        Some(org) => {
            sessions::set_current_org(state, &auth.session_id, &org.id).await?;
            members::membership_with_org(&state.db, &org.id, &auth.user_id).await
        }
        None => Ok(None),
    }
}

impl FromRequestParts<AppState> for OrgMember {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AuthUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let html = wants_html(&parts.headers) && !parts.uri.path().starts_with("/api/");
        let result = async {
            let (membership, org) = current_org(state, &auth).await?.ok_or(OrgError::NoOrg)?;
            device_policy::admit(
                state,
                &membership,
                &auth.device_id,
                org.require_device_approval,
            )
            .await?;
            Ok::<_, OrgError>(OrgMember {
                auth,
                membership,
                org,
            })
        }
        .await;
        result.map_err(|err| match (&err, html) {
            (OrgError::NoOrg, true) => Redirect::to("/orgs").into_response(),
            (OrgError::DevicePending | OrgError::DeviceRejected, true) => {
                Redirect::to("/orgs?device=pending").into_response()
            }
            _ => ApiError::from(err).into_response(),
        })
    }
}
