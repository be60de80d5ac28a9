//! Chat: conversations (1:1 and groups), messages with per-conversation
//! sequence numbers, live delivery over WebSocket, read receipts, search,
//! and do-not-disturb.

pub mod attachments;
pub mod cards;
pub mod centre;
pub mod conversations;
pub mod error;
pub mod live;
pub mod markdown;
pub mod messages;
pub mod quiet;
pub mod search;
pub mod settings;
pub mod web;
