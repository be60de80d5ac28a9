//! HTTP for bots: the management JSON API, the DingTalk-compatible webhook
//! and the robot pages.

pub mod api;
pub mod assistant;
pub mod assistant_pages;
pub mod cards;
pub mod outgoing;
pub mod pages;
pub mod schedule;
pub mod webhook;

/// Path prefixes that machines call without a browser session (the
/// server exempts them from CSRF checks).
pub const CSRF_EXEMPT: &[&str] = &["/robot/"];
