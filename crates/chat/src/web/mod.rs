//! HTTP for chat: the JSON API, the WebSocket and the pages.

pub mod api;
pub mod files;
pub mod pages;
pub mod socket;
