//! Approvals (審批): form templates, flows with condition branches,
//! countersign (會簽) and or-sign (或簽) nodes, CC, timeouts to delegates,
//! and the archive.
//!
//! `form` holds the field types and the check of submitted values; `flow`
//! the nodes an admin designs; `route` decides, at submission, the steps a
//! request takes through the org chart.

pub mod flow;
pub mod form;
pub mod route;
