//! Bots: custom webhook robots of groups, wire-compatible with DingTalk's
//! custom group robot (the same `/robot/send?access_token=…` address,
//! message types, signature, keyword and IP allow-list settings and error
//! codes), and the log of every call made to them.
//!
//! `robots` keeps the robots and their credentials, `security` holds the
//! DingTalk rules (signature, keywords, allow-list), `dingtalk` the wire
//! format, `webhook` receives a call and posts through chat's send path
//! (`ingest` writes accepted calls in batches under load),
//! `calls` logs calls, limits their rate and prunes the log, `outgoing`
//! calls a robot's server when a member @mentions it (DingTalk's outgoing
//! robots) and takes its replies through session webhooks, `scopes` says
//! what each robot may do, `interactive` sends cards composed in the group
//! panel and takes clicks on their callback buttons, `schedule` keeps
//! scheduled and check-in robots and runs them; `assistant`
//! is the AI assistant robot and the org's knowledge base.

pub mod assistant;
pub mod calls;
pub mod dingtalk;
pub mod error;
pub(crate) mod ingest;
pub mod interactive;
pub mod mention;
pub mod outgoing;
pub mod robots;
pub mod schedule;
pub mod scopes;
pub mod security;
pub mod web;
pub mod webhook;
