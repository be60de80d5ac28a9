//! HTTP for accounts: the session middleware and extractors every domain
//! uses to know who is asking, the JSON API and the pages.

pub mod api;
pub mod auth;
pub mod pages;

pub use auth::{authenticate, device_key, login_cookies, DeviceKey};
