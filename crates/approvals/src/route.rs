//! Routing: from a flow, the submitted (cleaned) values and what the org
//! looks like for the submitter, the steps the request will take. Routing
//! is decided once, at submission, so a request's path never changes under
//! it when the org chart does; a pure function, so every rule is tested
//! without a database.
//!
//! The rules where the org chart does not give an answer:
//! - The submitter never approves their own request at a node that does
//!   not allow it: they are left out of its approvers. If that leaves a
//!   manager node with no one, the next manager up takes it (escalation).
//! - A manager who has left the org is passed over: levels count the
//!   managers still in the org. When the chain ends before the level asked
//!   for (or a department has no head, a named person has left), the
//!   org's admins approve instead (或簽, any one of them).
//! - When even that leaves no one but the submitter, the node is approved
//!   automatically; the trail says so.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::flow::{Condition, Flow, Node, Op, SignMode, Who};

/// What routing needs to know about the org, read once per submission.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub submitter: String,
    /// The submitter's managers, nearest first, following
    /// `manager_user_id` while it leads to members (up to 10).
    pub managers: Vec<Person>,
    /// The submitter's department and those above it, nearest first.
    pub departments: Vec<DepartmentInfo>,
    /// Members by org role (`admin`, `owner`).
    pub roles: HashMap<String, Vec<String>>,
    /// Every current member of the org.
    pub members: HashSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    /// Still a member of the org.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentInfo {
    pub id: String,
    pub head: Option<String>,
}

impl Directory {
    fn is_member(&self, user_id: &str) -> bool {
        self.members.contains(user_id)
    }

    /// The org's admins and owners: the approvers of last resort.
    fn admins(&self) -> Vec<String> {
        let mut admins: Vec<String> = ["owner", "admin"]
            .iter()
            .flat_map(|role| self.roles.get(*role).cloned().unwrap_or_default())
            .collect();
        admins.sort();
        admins.dedup();
        admins
    }
}

/// One step of a routed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    Approve {
        node_id: String,
        name: String,
        approvers: Vec<String>,
        mode: SignMode,
        deadline_hours: u32,
        /// Why the approvers are not simply what the node names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<RouteNote>,
    },
    Cc {
        node_id: String,
        name: String,
        recipients: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteNote {
    /// The submitter was left out of the approvers.
    SubmitterLeftOut,
    /// The manager asked for was the submitter (or no one was left); the
    /// next manager up approves.
    Escalated,
    /// No one the node names could approve: the org's admins do.
    AdminsInstead,
    /// No one could approve but the submitter: approved automatically.
    AutoApproved,
}

/// The steps a request with these values takes.
pub fn plan(flow: &Flow, values: &Map<String, Value>, directory: &Directory) -> Vec<Step> {
    let mut steps = Vec::new();
    walk(&flow.nodes, values, directory, &mut steps);
    steps
}

fn walk(nodes: &[Node], values: &Map<String, Value>, directory: &Directory, steps: &mut Vec<Step>) {
    for node in nodes {
        match node {
            Node::Approver {
                id,
                name,
                approvers,
                mode,
                deadline_hours,
                allow_submitter,
            } => {
                let (people, mode, note) =
                    approvers_of(approvers, *mode, *allow_submitter, values, directory);
                steps.push(Step::Approve {
                    node_id: id.clone(),
                    name: name.clone(),
                    approvers: people,
                    mode,
                    deadline_hours: *deadline_hours,
                    note,
                });
            }
            Node::Cc {
                id,
                name,
                recipients,
            } => {
                let mut people: Vec<String> = recipients
                    .iter()
                    .flat_map(|who| resolve(who, values, directory, 0))
                    .filter(|p| p != &directory.submitter)
                    .collect();
                dedup_keep_order(&mut people);
                if !people.is_empty() {
                    steps.push(Step::Cc {
                        node_id: id.clone(),
                        name: name.clone(),
                        recipients: people,
                    });
                }
            }
            Node::Branch {
                branches, default, ..
            } => {
                let taken = branches
                    .iter()
                    .find(|b| holds(&b.when, values, directory))
                    .map(|b| &b.nodes)
                    .unwrap_or(default);
                walk(taken, values, directory, steps);
            }
        }
    }
}

/// A node's approvers after the rules above.
fn approvers_of(
    who: &[Who],
    mode: SignMode,
    allow_submitter: bool,
    values: &Map<String, Value>,
    directory: &Directory,
) -> (Vec<String>, SignMode, Option<RouteNote>) {
    let submitter = directory.submitter.as_str();
    let keep = |people: Vec<String>| -> Vec<String> {
        let mut people: Vec<String> = people
            .into_iter()
            .filter(|p| allow_submitter || p != submitter)
            .collect();
        dedup_keep_order(&mut people);
        people
    };
    let named: Vec<String> = who
        .iter()
        .flat_map(|w| resolve(w, values, directory, 0))
        .collect();
    let left_out = !allow_submitter && named.iter().any(|p| p == submitter);
    let people = keep(named);
    if !people.is_empty() {
        return (
            people,
            mode,
            left_out.then_some(RouteNote::SubmitterLeftOut),
        );
    }
    // Escalate manager nodes one level at a time while levels remain.
    for extra in 1..=3 {
        let up: Vec<String> = who
            .iter()
            .filter(|w| matches!(w, Who::Manager { .. }))
            .flat_map(|w| resolve(w, values, directory, extra))
            .collect();
        let up = keep(up);
        if !up.is_empty() {
            return (up, mode, Some(RouteNote::Escalated));
        }
    }
    let admins = keep(directory.admins());
    if !admins.is_empty() {
        return (admins, SignMode::OrSign, Some(RouteNote::AdminsInstead));
    }
    (Vec::new(), mode, Some(RouteNote::AutoApproved))
}

/// The members `who` names; `extra` levels further up for managers.
fn resolve(
    who: &Who,
    values: &Map<String, Value>,
    directory: &Directory,
    extra: usize,
) -> Vec<String> {
    match who {
        Who::Person { user_id } => directory
            .is_member(user_id)
            .then(|| user_id.clone())
            .into_iter()
            .collect(),
        Who::Manager { level } => directory
            .managers
            .iter()
            .filter(|m| m.active)
            .nth(*level as usize - 1 + extra)
            .map(|m| m.user_id.clone())
            .into_iter()
            .collect(),
        Who::DepartmentHead => directory
            .departments
            .iter()
            .find_map(|d| d.head.clone().filter(|h| directory.is_member(h)))
            .into_iter()
            .collect(),
        Who::Role { role } => directory.roles.get(role).cloned().unwrap_or_default(),
        Who::PickedInField { field } => values
            .get(field)
            .and_then(Value::as_str)
            .filter(|id| directory.is_member(id))
            .map(str::to_string)
            .into_iter()
            .collect(),
    }
}

fn dedup_keep_order(people: &mut Vec<String>) {
    let mut seen = HashSet::new();
    people.retain(|p| seen.insert(p.clone()));
}

/// Whether a branch's condition holds for these values and submitter.
pub fn holds(condition: &Condition, values: &Map<String, Value>, directory: &Directory) -> bool {
    match condition {
        Condition::Field { field, op, value } => match values.get(field) {
            Some(given) => compare(given, *op, value),
            None => false,
        },
        Condition::SubmitterInDepartment { department_id } => {
            directory.departments.iter().any(|d| &d.id == department_id)
        }
        Condition::All { conditions } => conditions.iter().all(|c| holds(c, values, directory)),
        Condition::Any { conditions } => conditions.iter().any(|c| holds(c, values, directory)),
    }
}

/// A cleaned value against the condition's value.
fn compare(given: &Value, op: Op, wanted: &Value) -> bool {
    // A detail table compares as its money total (an expense claim's lines).
    let given = table_money_total(given).unwrap_or(given);
    if op == Op::In {
        let Some(list) = wanted.as_array() else {
            return false;
        };
        return texts(given)
            .iter()
            .any(|t| list.iter().any(|w| w.as_str() == Some(t.as_str())));
    }
    if let (Some(a), Some(b)) = (number(given), as_number(wanted)) {
        // Money is compared in cents, exactly: "> 5000" is false at 5000.00.
        let (a, b) = match given.get("cents") {
            Some(_) => (a, (b * 100.0).round()),
            None => (a, b),
        };
        return match op {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::In => false,
        };
    }
    let wanted = wanted
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| wanted.to_string());
    let given = texts(given);
    match op {
        Op::Eq => given.contains(&wanted),
        Op::Ne => !given.contains(&wanted),
        _ => false,
    }
}

/// The first money column total of a cleaned table value.
fn table_money_total(value: &Value) -> Option<&Value> {
    value
        .get("totals")?
        .as_object()?
        .values()
        .find(|total| total.get("cents").is_some())
}

/// A cleaned value as a number: money in cents, a range in days.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) => o
            .get("cents")
            .or_else(|| o.get("days"))
            .and_then(Value::as_f64),
        _ => None,
    }
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().replace(',', "").parse().ok(),
        _ => None,
    }
}

fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flow::{Branch, DEFAULT_DEADLINE_HOURS};

    fn person(id: &str) -> Person {
        Person {
            user_id: id.into(),
            active: true,
        }
    }

    /// Staff → Manager → Director → CEO; finance and an admin; staff in
    /// Sales under HQ.
    fn org() -> Directory {
        Directory {
            submitter: "staff".into(),
            managers: vec![person("manager"), person("director"), person("ceo")],
            departments: vec![
                DepartmentInfo {
                    id: "sales".into(),
                    head: Some("sales-head".into()),
                },
                DepartmentInfo {
                    id: "hq".into(),
                    head: Some("ceo".into()),
                },
            ],
            roles: HashMap::from([
                ("owner".to_string(), vec!["ceo".to_string()]),
                ("admin".to_string(), vec!["it-admin".to_string()]),
            ]),
            members: [
                "staff",
                "manager",
                "director",
                "ceo",
                "finance",
                "it-admin",
                "sales-head",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }

    fn approver(id: &str, who: Vec<Who>, mode: SignMode) -> Node {
        Node::Approver {
            id: id.into(),
            name: id.into(),
            approvers: who,
            mode,
            deadline_hours: DEFAULT_DEADLINE_HOURS,
            allow_submitter: false,
        }
    }

    /// Manager; over HK$5,000 also the second-level manager; Finance
    /// department requests go to the CFO path; then finance.
    fn expense_flow() -> Flow {
        Flow {
            nodes: vec![
                approver(
                    "manager",
                    vec![Who::Manager { level: 1 }],
                    SignMode::Countersign,
                ),
                Node::Branch {
                    id: "amount".into(),
                    branches: vec![Branch {
                        name: "over 5000".into(),
                        when: Condition::Field {
                            field: "amount".into(),
                            op: Op::Gt,
                            value: json!(5000),
                        },
                        nodes: vec![approver(
                            "second",
                            vec![Who::Manager { level: 2 }],
                            SignMode::Countersign,
                        )],
                    }],
                    default: vec![],
                },
                Node::Cc {
                    id: "cc".into(),
                    name: "cc".into(),
                    recipients: vec![Who::DepartmentHead],
                },
                approver(
                    "finance",
                    vec![Who::Person {
                        user_id: "finance".into(),
                    }],
                    SignMode::Countersign,
                ),
            ],
        }
    }

    fn money(cents: i64) -> Map<String, Value> {
        json!({ "amount": { "currency": "HKD", "cents": cents } })
            .as_object()
            .unwrap()
            .clone()
    }

    /// (node id, approvers, note) of each approval step.
    fn approvals(steps: &[Step]) -> Vec<(String, Vec<String>, Option<RouteNote>)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Approve {
                    node_id,
                    approvers,
                    note,
                    ..
                } => Some((node_id.clone(), approvers.clone(), *note)),
                Step::Cc { .. } => None,
            })
            .collect()
    }

    fn ids(steps: &[Step]) -> Vec<String> {
        approvals(steps).into_iter().map(|(id, _, _)| id).collect()
    }

    #[test]
    fn the_amount_boundary_decides_the_second_level() {
        for (cents, expected) in [
            (499_999, vec!["manager", "finance"]),
            (500_000, vec!["manager", "finance"]),
            (500_001, vec!["manager", "second", "finance"]),
            (620_000, vec!["manager", "second", "finance"]),
        ] {
            let steps = plan(&expense_flow(), &money(cents), &org());
            assert_eq!(ids(&steps), expected, "at {cents} cents");
        }
        let steps = plan(&expense_flow(), &money(620_000), &org());
        assert_eq!(approvals(&steps)[1].1, vec!["director"]);
    }

    #[test]
    fn a_table_compares_as_its_money_total() {
        let table = |cents: i64| {
            json!({ "amount": { "rows": [], "totals": { "n": 3.0, "cost": { "currency": "HKD", "cents": cents } } } })
                .as_object()
                .unwrap()
                .clone()
        };
        for (cents, expected) in [
            (500_000, vec!["manager", "finance"]),
            (500_001, vec!["manager", "second", "finance"]),
        ] {
            let steps = plan(&expense_flow(), &table(cents), &org());
            assert_eq!(ids(&steps), expected, "table total {cents} cents");
        }
    }

    #[test]
    fn a_missing_optional_field_takes_the_default_branch() {
        let steps = plan(&expense_flow(), &Map::new(), &org());
        assert_eq!(ids(&steps), vec!["manager", "finance"]);
        // `ne` does not match an empty field either.
        let ne = Condition::Field {
            field: "amount".into(),
            op: Op::Ne,
            value: json!(1),
        };
        assert!(!holds(&ne, &Map::new(), &org()));
    }

    #[test]
    fn cc_and_department_head() {
        let steps = plan(&expense_flow(), &money(100), &org());
        assert!(steps.contains(&Step::Cc {
            node_id: "cc".into(),
            name: "cc".into(),
            recipients: vec!["sales-head".into()],
        }));
    }

    #[test]
    fn conditions_on_text_selects_and_the_submitters_department() {
        let values = json!({ "kind": "住宿", "tags": ["urgent", "client"], "trip": { "start": "2026-12-01", "end": "2026-12-05", "days": 5 } });
        let values = values.as_object().unwrap();
        let cases = [
            (
                Condition::Field {
                    field: "kind".into(),
                    op: Op::Eq,
                    value: json!("住宿"),
                },
                true,
            ),
            (
                Condition::Field {
                    field: "kind".into(),
                    op: Op::Ne,
                    value: json!("住宿"),
                },
                false,
            ),
            (
                Condition::Field {
                    field: "kind".into(),
                    op: Op::In,
                    value: json!(["交通", "住宿"]),
                },
                true,
            ),
            (
                Condition::Field {
                    field: "tags".into(),
                    op: Op::In,
                    value: json!(["client"]),
                },
                true,
            ),
            (
                Condition::Field {
                    field: "tags".into(),
                    op: Op::Eq,
                    value: json!("urgent"),
                },
                true,
            ),
            (
                Condition::Field {
                    field: "trip".into(),
                    op: Op::Ge,
                    value: json!(5),
                },
                true,
            ),
            (
                Condition::Field {
                    field: "trip".into(),
                    op: Op::Gt,
                    value: json!(5),
                },
                false,
            ),
            (
                Condition::SubmitterInDepartment {
                    department_id: "hq".into(),
                },
                true,
            ),
            (
                Condition::SubmitterInDepartment {
                    department_id: "finance".into(),
                },
                false,
            ),
            (
                Condition::All {
                    conditions: vec![
                        Condition::SubmitterInDepartment {
                            department_id: "sales".into(),
                        },
                        Condition::Field {
                            field: "kind".into(),
                            op: Op::Eq,
                            value: json!("交通"),
                        },
                    ],
                },
                false,
            ),
            (
                Condition::Any {
                    conditions: vec![
                        Condition::SubmitterInDepartment {
                            department_id: "sales".into(),
                        },
                        Condition::Field {
                            field: "kind".into(),
                            op: Op::Eq,
                            value: json!("交通"),
                        },
                    ],
                },
                true,
            ),
        ];
        for (condition, expected) in cases {
            assert_eq!(holds(&condition, values, &org()), expected, "{condition:?}");
        }
    }

    #[test]
    fn the_submitter_is_never_their_own_approver() {
        // The manager submits: level 1 is the director for them.
        let mut directory = org();
        directory.submitter = "manager".into();
        directory.managers = vec![person("director"), person("ceo")];
        let steps = plan(&expense_flow(), &money(620_000), &directory);
        assert_eq!(
            approvals(&steps),
            vec![
                ("manager".into(), vec!["director".into()], None),
                ("second".into(), vec!["ceo".into()], None),
                ("finance".into(), vec!["finance".into()], None),
            ]
        );
        // Finance submits: finance's own node goes to the admins.
        let mut directory = org();
        directory.submitter = "finance".into();
        directory.managers = vec![person("ceo")];
        let steps = plan(&expense_flow(), &money(100), &directory);
        assert_eq!(
            approvals(&steps)[1],
            (
                "finance".into(),
                vec!["ceo".into(), "it-admin".into()],
                Some(RouteNote::AdminsInstead)
            )
        );
        // A named approver who is the submitter, with another approver on the node.
        let both = Flow {
            nodes: vec![approver(
                "pair",
                vec![
                    Who::Person {
                        user_id: "staff".into(),
                    },
                    Who::Person {
                        user_id: "finance".into(),
                    },
                ],
                SignMode::Countersign,
            )],
        };
        assert_eq!(
            approvals(&plan(&both, &Map::new(), &org())),
            vec![(
                "pair".into(),
                vec!["finance".into()],
                Some(RouteNote::SubmitterLeftOut)
            )]
        );
        // Unless the node allows it.
        let own = Flow {
            nodes: vec![Node::Approver {
                id: "self".into(),
                name: "self".into(),
                approvers: vec![Who::Person {
                    user_id: "staff".into(),
                }],
                mode: SignMode::Countersign,
                deadline_hours: 24,
                allow_submitter: true,
            }],
        };
        assert_eq!(
            approvals(&plan(&own, &Map::new(), &org()))[0].1,
            vec!["staff".to_string()]
        );
    }

    #[test]
    fn the_top_of_the_chain_escalates_then_falls_back() {
        // The CEO submits: no manager at all → admins (not the CEO).
        let mut directory = org();
        directory.submitter = "ceo".into();
        directory.managers = vec![];
        let steps = plan(&expense_flow(), &money(100), &directory);
        assert_eq!(
            approvals(&steps)[0],
            (
                "manager".into(),
                vec!["it-admin".into()],
                Some(RouteNote::AdminsInstead)
            )
        );
        // A lone owner with no one else: approved automatically.
        let mut alone = Directory {
            submitter: "owner".into(),
            ..Directory::default()
        };
        alone.roles.insert("owner".into(), vec!["owner".into()]);
        alone.members.insert("owner".into());
        let steps = plan(&expense_flow(), &money(100), &alone);
        assert_eq!(
            approvals(&steps)[0],
            ("manager".into(), vec![], Some(RouteNote::AutoApproved))
        );
    }

    #[test]
    fn a_manager_who_left_is_passed_over() {
        let mut directory = org();
        directory.managers[0].active = false;
        let steps = plan(&expense_flow(), &money(620_000), &directory);
        assert_eq!(
            approvals(&steps)[..2],
            [
                ("manager".into(), vec!["director".into()], None),
                ("second".into(), vec!["ceo".into()], None),
            ]
        );
        // A named approver who left: the admins.
        let mut directory = org();
        directory.members.remove("finance");
        let steps = plan(&expense_flow(), &money(100), &directory);
        assert_eq!(
            approvals(&steps)[1],
            (
                "finance".into(),
                vec!["ceo".into(), "it-admin".into()],
                Some(RouteNote::AdminsInstead)
            )
        );
    }

    #[test]
    fn several_approvers_keep_their_mode_and_roles_expand() {
        let flow = Flow {
            nodes: vec![
                approver(
                    "board",
                    vec![
                        Who::Role {
                            role: "owner".into(),
                        },
                        Who::Role {
                            role: "admin".into(),
                        },
                    ],
                    SignMode::OrSign,
                ),
                approver(
                    "picked",
                    vec![Who::PickedInField {
                        field: "reviewer".into(),
                    }],
                    SignMode::Countersign,
                ),
            ],
        };
        let values = json!({ "reviewer": "sales-head" });
        let steps = plan(&flow, values.as_object().unwrap(), &org());
        assert_eq!(
            steps[0],
            Step::Approve {
                node_id: "board".into(),
                name: "board".into(),
                approvers: vec!["ceo".into(), "it-admin".into()],
                mode: SignMode::OrSign,
                deadline_hours: 24,
                note: None,
            }
        );
        assert_eq!(approvals(&steps)[1].1, vec!["sales-head".to_string()]);
    }
}
