//! Outgoing robots (DingTalk's outgoing / receive mode): a custom robot
//! with a callback address gets a signed POST when a member @mentions it,
//! and answers in the response body or later through a session webhook.
//!
//! `settings` keeps the callback address and the app secret (generated
//! here, sealed under the server key, shown once); `deliver` is the
//! durable job that calls the robot's server (retried with backoff, each
//! attempt in the call log); `session` issues the `sessionWebhook`
//! addresses and receives the replies sent to them.

pub mod deliver;
pub mod session;
pub mod settings;

pub(crate) use deliver::enqueue_mention;
pub use deliver::{register, OUTGOING_JOB};
pub use settings::{Outgoing, OutgoingSettings};
