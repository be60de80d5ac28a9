//! HTTP for approvals: the JSON API.

pub mod api;
