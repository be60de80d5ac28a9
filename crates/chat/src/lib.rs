//! Chat: conversations (1:1 and groups), messages with per-conversation
//! sequence numbers, live delivery over WebSocket, read receipts, search,
//! do-not-disturb, and work notices (`notices`) that Tram's own services
//! post to a member.

pub mod attachments;
pub mod cards;
pub mod centre;
pub mod conversations;
pub mod error;
pub mod live;
pub mod markdown;
pub mod messages;
pub mod notices;
pub mod quiet;
pub mod robot_batch;
pub mod search;
pub mod settings;
pub mod web;
