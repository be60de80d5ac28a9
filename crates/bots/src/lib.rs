//! Bots: custom webhook robots of groups, wire-compatible with DingTalk's
//! custom group robot (the same `/robot/send?access_token=…` address,
//! message types, signature, keyword and IP allow-list settings and error
//! codes), and the log of every call made to them.
//!
//! `robots` keeps the robots and their credentials, `security` holds the
//! DingTalk rules (signature, keywords, allow-list), `dingtalk` the wire
//! format, `webhook` receives a call and posts through chat's send path,
//! `calls` logs calls, limits their rate and prunes the log; `assistant`
//! is the AI assistant robot and the org's knowledge base.

pub mod assistant;
pub mod calls;
pub mod dingtalk;
pub mod error;
pub mod mention;
pub mod robots;
pub mod security;
pub mod web;
pub mod webhook;
