//! Everything that can go wrong with organisations, and its one mapping to HTTP.

use axum::http::StatusCode;
use tram_accounts::AccountError;
use tram_platform::{ApiError, Msg};

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("organisation name missing or too long")]
    InvalidOrgName,
    #[error("department name missing or too long")]
    InvalidDepartmentName,
    #[error("no organisation")]
    NoOrg,
    #[error("not a member")]
    NotMember,
    #[error("admins only")]
    AdminOnly,
    #[error("owners only")]
    OwnerOnly,
    #[error("unknown role")]
    InvalidRole,
    #[error("the last owner must stay an owner")]
    LastOwner,
    #[error("invitation unknown, expired, used up or revoked")]
    InvitationInvalid,
    #[error("already a member")]
    AlreadyMember,
    #[error("a department cannot move under itself")]
    DepartmentCycle,
    #[error("department still has members or sub-departments")]
    DepartmentNotEmpty,
    #[error("a member cannot be their own manager, directly or up the chain")]
    ManagerCycle,
    #[error("this device waits for an admin's approval")]
    DevicePending,
    #[error("this device was refused by an admin")]
    DeviceRejected,
    #[error("setup already done")]
    SetupDone,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<OrgError> for ApiError {
    fn from(err: OrgError) -> ApiError {
        use OrgError::*;
        let e = |status, code, key| ApiError::new(status, code, Msg::new(key));
        match err {
            InvalidOrgName => e(
                StatusCode::BAD_REQUEST,
                "invalid_org_name",
                "org.error.invalid_org_name",
            )
            .field("company_name", Msg::new("org.error.invalid_org_name")),
            InvalidDepartmentName => e(
                StatusCode::BAD_REQUEST,
                "invalid_department_name",
                "org.error.invalid_department_name",
            )
            .field("name", Msg::new("org.error.invalid_department_name")),
            NoOrg => e(StatusCode::FORBIDDEN, "no_org", "org.error.no_org"),
            NotMember => e(StatusCode::NOT_FOUND, "not_member", "org.error.not_member"),
            AdminOnly => e(StatusCode::FORBIDDEN, "admin_only", "org.error.admin_only"),
            OwnerOnly => e(StatusCode::FORBIDDEN, "owner_only", "org.error.owner_only"),
            InvalidRole => e(
                StatusCode::BAD_REQUEST,
                "invalid_role",
                "org.error.invalid_role",
            ),
            LastOwner => e(StatusCode::CONFLICT, "last_owner", "org.error.last_owner"),
            InvitationInvalid => e(
                StatusCode::BAD_REQUEST,
                "invitation_invalid",
                "org.error.invitation_invalid",
            )
            .field("invitation_code", Msg::new("org.error.invitation_invalid")),
            AlreadyMember => e(
                StatusCode::CONFLICT,
                "already_member",
                "org.error.already_member",
            ),
            DepartmentCycle => e(
                StatusCode::BAD_REQUEST,
                "department_cycle",
                "org.error.department_cycle",
            ),
            DepartmentNotEmpty => e(
                StatusCode::CONFLICT,
                "department_not_empty",
                "org.error.department_not_empty",
            ),
            ManagerCycle => e(
                StatusCode::BAD_REQUEST,
                "manager_cycle",
                "org.error.manager_cycle",
            ),
            DevicePending => e(
                StatusCode::FORBIDDEN,
                "device_pending",
                "org.error.device_pending",
            ),
            DeviceRejected => e(
                StatusCode::FORBIDDEN,
                "device_rejected",
                "org.error.device_rejected",
            ),
            SetupDone => e(StatusCode::CONFLICT, "setup_done", "org.error.setup_done"),
            NotFound => ApiError::not_found(),
            Account(inner) => inner.into(),
            Database(inner) => ApiError::internal(inner),
        }
    }
}

pub type OrgResult<T> = Result<T, OrgError>;
