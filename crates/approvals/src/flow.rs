//! Approval flows as an admin designs them: a sequence of nodes — approver
//! nodes (one person, the submitter's manager or the manager N levels up,
//! the department head, everyone with a role, or a person the submitter
//! picks on the form), CC nodes, and condition branches on form values and
//! the submitter's department, with a default branch. The end of the
//! sequence is the archive.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default time an approver has before the task moves to their delegate.
pub const DEFAULT_DEADLINE_HOURS: u32 = 24;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Flow {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Approver {
        id: String,
        name: String,
        approvers: Vec<Who>,
        /// How several approvers decide (ignored for one).
        #[serde(default)]
        mode: SignMode,
        /// Hours before the task moves to the approver's delegate.
        #[serde(default = "default_deadline")]
        deadline_hours: u32,
        /// The submitter may approve their own request at this node.
        #[serde(default)]
        allow_submitter: bool,
    },
    Cc {
        id: String,
        name: String,
        recipients: Vec<Who>,
    },
    /// The first branch whose condition holds is taken, else `default`.
    Branch {
        id: String,
        #[schema(value_type = Vec<Object>)]
        branches: Vec<Branch>,
        #[serde(default)]
        #[schema(value_type = Vec<Object>)]
        default: Vec<Node>,
    },
}

fn default_deadline() -> u32 {
    DEFAULT_DEADLINE_HOURS
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Branch {
    pub name: String,
    pub when: Condition,
    #[schema(value_type = Vec<Object>)]
    pub nodes: Vec<Node>,
}

/// 會簽 (all must approve) or 或簽 (the first to act decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    #[default]
    Countersign,
    OrSign,
}

/// Who approves (or is copied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Who {
    Person {
        user_id: String,
    },
    /// The submitter's manager (level 1) or the manager `level` steps up.
    Manager {
        #[serde(default = "first_level")]
        level: u8,
    },
    /// The head of the submitter's department (or the nearest department
    /// above it that has one).
    DepartmentHead,
    /// Every member with this org role (`admin`, `owner`).
    Role {
        role: String,
    },
    /// The person in this form field (a person field).
    PickedInField {
        field: String,
    },
}

fn first_level() -> u8 {
    1
}

/// A test on the form's values or on the submitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// Compares a field's value: numbers and money (in currency units)
    /// numerically, anything else as text. A field left empty never
    /// matches (not even `ne`).
    Field { field: String, op: Op, value: Value },
    /// The submitter is in this department or one below it.
    SubmitterInDepartment { department_id: String },
    All {
        #[schema(value_type = Vec<Object>)]
        conditions: Vec<Condition>,
    },
    Any {
        #[schema(value_type = Vec<Object>)]
        conditions: Vec<Condition>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
    /// The value (or any of a multi-select's values) is one of a list.
    In,
}

/// The standard flow: the submitter's manager, then finance (everyone with
/// the finance person's id given by the template), then the archive.
pub fn standard(finance_user_id: &str) -> Flow {
    Flow {
        nodes: vec![
            Node::Approver {
                id: "manager".into(),
                name: "直屬主管".into(),
                approvers: vec![Who::Manager { level: 1 }],
                mode: SignMode::Countersign,
                deadline_hours: DEFAULT_DEADLINE_HOURS,
                allow_submitter: false,
            },
            Node::Approver {
                id: "finance".into(),
                name: "財務".into(),
                approvers: vec![Who::Person {
                    user_id: finance_user_id.into(),
                }],
                mode: SignMode::Countersign,
                deadline_hours: DEFAULT_DEADLINE_HOURS,
                allow_submitter: false,
            },
        ],
    }
}

/// What an admin got wrong in a flow's design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub node: String,
    pub problem: &'static str,
}

/// Checks a flow: node ids unique, every approver/CC node names someone,
/// levels 1–5, conditions name fields of the form.
pub fn check(flow: &Flow, field_keys: &[&str]) -> Result<(), FlowError> {
    let mut ids = std::collections::HashSet::new();
    check_nodes(&flow.nodes, field_keys, &mut ids)
}

fn check_nodes<'a>(
    nodes: &'a [Node],
    fields: &[&str],
    ids: &mut std::collections::HashSet<&'a str>,
) -> Result<(), FlowError> {
    for node in nodes {
        let (id, problem) = match node {
            Node::Approver { id, approvers, .. } => (id, who_problem(approvers, fields)),
            Node::Cc { id, recipients, .. } => (id, who_problem(recipients, fields)),
            Node::Branch {
                id,
                branches,
                default,
            } => {
                for branch in branches {
                    if let Some(problem) = condition_problem(&branch.when, fields) {
                        return Err(FlowError {
                            node: id.clone(),
                            problem,
                        });
                    }
                    check_nodes(&branch.nodes, fields, ids)?;
                }
                check_nodes(default, fields, ids)?;
                (id, branches.is_empty().then_some("no_branches"))
            }
        };
        let bad_id = id.is_empty() || id.len() > 40 || !ids.insert(id.as_str());
        if let Some(problem) = problem.or(bad_id.then_some("node_id")) {
            return Err(FlowError {
                node: id.clone(),
                problem,
            });
        }
    }
    Ok(())
}

fn who_problem(who: &[Who], fields: &[&str]) -> Option<&'static str> {
    if who.is_empty() {
        return Some("no_one");
    }
    who.iter().find_map(|w| match w {
        Who::Manager { level } if !(1..=5).contains(level) => Some("manager_level"),
        Who::Role { role } if role != "admin" && role != "owner" => Some("role"),
        Who::PickedInField { field } if !fields.contains(&field.as_str()) => Some("unknown_field"),
        _ => None,
    })
}

fn condition_problem(condition: &Condition, fields: &[&str]) -> Option<&'static str> {
    match condition {
        Condition::Field { field, .. } if !fields.contains(&field.as_str()) => {
            Some("unknown_field")
        }
        Condition::All { conditions } | Condition::Any { conditions } => {
            if conditions.is_empty() {
                Some("empty_condition")
            } else {
                conditions.iter().find_map(|c| condition_problem(c, fields))
            }
        }
        _ => None,
    }
}
