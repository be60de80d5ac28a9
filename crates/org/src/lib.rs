//! Organisations: first-run setup and registration (which may create or
//! join one), members and roles, departments, managers, invitations, the
//! "only registered devices" policy and the admin's view of the audit log.
//! Other domains reach the org through `web::OrgMember` and the service
//! functions here (e.g. `members::manager_chain`, `departments::head_for`).

pub mod audit_view;
pub mod departments;
pub mod device_policy;
pub mod error;
pub mod invitations;
pub mod members;
pub mod onboarding;
pub mod orgs;
pub mod web;

pub use error::{OrgError, OrgResult};
