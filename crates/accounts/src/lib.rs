//! Accounts: people, their credentials and their ways in. Registration
//! codes, password login with throttling, QR-code login, TOTP 2FA with
//! recovery codes, and the devices and sessions a user (or an admin) can
//! see and end. Organisations live in `tram-org`, which builds on this.

pub mod codes;
pub mod contact;
pub mod error;
pub mod login;
pub mod password;
pub mod qr;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod users;
pub mod web;

pub use error::{AccountError, AccountResult};
pub use sessions::AuthUser;
