//! HTTP for approvals: the JSON API and the server-rendered pages.

pub mod api;
pub mod pages;
