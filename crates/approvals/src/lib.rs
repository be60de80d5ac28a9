//! Approvals (審批): form templates, flows with condition branches,
//! countersign (會簽) and or-sign (或簽) nodes, CC, and the archive.
//!
//! `form` holds the field types and the check of submitted values; `flow`
//! the nodes an admin designs; `route` decides, at submission, the steps a
//! request takes through the org chart (read by `directory`); `templates`
//! keeps every version of a template; `instances` creates requests and
//! their tasks, `decisions` carries them through approvers' actions to the
//! archive, `deadlines` moves overdue tasks to delegates, `notices` tells
//! the people involved in chat, `stats` counts and times for admins;
//! `files` keeps the files uploaded to attachment fields;
//! `gallery` holds ready-made designs, `web::pages` the server-rendered pages.

pub mod deadlines;
pub mod decisions;
pub mod delegates;
pub mod directory;
pub mod error;
pub mod files;
pub mod flow;
pub mod form;
pub mod gallery;
pub mod instances;
pub mod notices;
pub mod route;
pub mod stats;
pub mod stats_chart;
pub mod templates;
pub mod web;
