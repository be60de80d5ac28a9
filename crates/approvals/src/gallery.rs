//! The template gallery: ready designs for leave (請假), expense claims
//! (報銷), purchases (採購) and travel (差旅) that work out of the box. An
//! admin adds one to the org in one click, naming the finance approver (a
//! person, picked from the members: a role would make every admin approve,
//! which is not what finance means); afterwards it is an ordinary template
//! they can edit, switch off, and version.

use serde_json::json;
use tram_org::members::Membership;
use tram_platform::i18n::Locale;
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::{Branch, Condition, Flow, Node, Op, SignMode, Who, DEFAULT_DEADLINE_HOURS};
use crate::form::{Field, FieldKind};
use crate::templates::{self, Template, TemplateDesign};

/// The gallery's designs, in the order the admin page shows them.
pub const KINDS: &[&str] = &["leave", "expense", "purchase", "travel"];

/// Expense claims above this (in HK$, exclusive) also go to the
/// submitter's second-level manager.
pub const EXPENSE_SECOND_LEVEL_OVER: i64 = 5_000;

fn field(locale: Locale, key: &str, required: bool, kind: FieldKind) -> Field {
    Field {
        key: key.into(),
        label: locale
            .t(&format!("approvals_pages.gallery.field.{key}"))
            .into(),
        required,
        kind,
    }
}

fn money() -> FieldKind {
    FieldKind::Money {
        currency: "HKD".into(),
        min: Some(0.0),
        max: None,
    }
}

fn text() -> FieldKind {
    FieldKind::ShortText { pattern: None }
}

fn approver(locale: Locale, id: &str, who: Who) -> Node {
    Node::Approver {
        id: id.into(),
        name: locale
            .t(&format!("approvals_pages.gallery.node.{id}"))
            .into(),
        approvers: vec![who],
        mode: SignMode::OrSign,
        deadline_hours: DEFAULT_DEADLINE_HOURS,
        allow_submitter: false,
    }
}

/// The standard flow: manager, (extra nodes), finance; then the archive.
fn flow(locale: Locale, finance_user_id: &str, extra: Vec<Node>) -> Flow {
    let mut nodes = vec![approver(locale, "manager", Who::Manager { level: 1 })];
    nodes.extend(extra);
    nodes.push(approver(
        locale,
        "finance",
        Who::Person {
            user_id: finance_user_id.into(),
        },
    ));
    Flow { nodes }
}

/// A gallery design, its labels in the admin's language.
pub fn design(kind: &str, finance_user_id: &str, locale: Locale) -> Option<TemplateDesign> {
    let l = locale;
    let (fields, extra) = match kind {
        "leave" => {
            let options = ["annual", "sick", "personal", "other"]
                .iter()
                .map(|o| {
                    l.t(&format!("approvals_pages.gallery.leave_type.{o}"))
                        .to_string()
                })
                .collect();
            let fields = vec![
                field(l, "leave_type", true, FieldKind::SingleSelect { options }),
                field(l, "period", true, FieldKind::DateRange),
                field(l, "reason", true, FieldKind::LongText),
            ];
            (fields, Vec::new())
        }
        "expense" => {
            let columns = vec![
                field(l, "date", true, FieldKind::Date),
                field(l, "item", true, text()),
                field(l, "amount", true, money()),
            ];
            let fields = vec![
                field(l, "reason", true, text()),
                field(l, "lines", true, FieldKind::Table { columns }),
                field(l, "attachments", false, FieldKind::Attachment),
            ];
            // A table's value compares as its money total (route::compare).
            let second = Node::Branch {
                id: "amount".into(),
                branches: vec![Branch {
                    name: l.t("approvals_pages.gallery.node.over_5000").into(),
                    when: Condition::Field {
                        field: "lines".into(),
                        op: Op::Gt,
                        value: json!(EXPENSE_SECOND_LEVEL_OVER),
                    },
                    nodes: vec![approver(l, "second", Who::Manager { level: 2 })],
                }],
                default: Vec::new(),
            };
            (fields, vec![second])
        }
        "purchase" => {
            let fields = vec![
                field(l, "item", true, text()),
                field(
                    l,
                    "quantity",
                    true,
                    FieldKind::Number {
                        min: Some(1.0),
                        max: None,
                        decimals: 0,
                    },
                ),
                field(l, "amount", true, money()),
                field(l, "supplier", false, text()),
                field(l, "needed_by", false, FieldKind::Date),
                field(l, "reason", true, FieldKind::LongText),
            ];
            (fields, Vec::new())
        }
        "travel" => {
            let fields = vec![
                field(l, "destination", true, text()),
                field(l, "period", true, FieldKind::DateRange),
                field(l, "purpose", true, FieldKind::LongText),
                field(l, "estimated_cost", true, money()),
            ];
            (fields, Vec::new())
        }
        _ => return None,
    };
    Some(TemplateDesign {
        name: l.t(&format!("approvals_pages.gallery.{kind}")).into(),
        category: kind.into(),
        description: l
            .t(&format!("approvals_pages.gallery.{kind}_description"))
            .into(),
        fields,
        flow: flow(l, finance_user_id, extra),
    })
}

/// Adds a gallery template to the admin's org (admins only); the finance
/// approver must be a member.
pub async fn add(
    state: &AppState,
    actor: &Membership,
    kind: &str,
    finance_user_id: &str,
    locale: Locale,
) -> ApprovalResult<Template> {
    let design =
        design(kind, finance_user_id.trim(), locale).ok_or(ApprovalError::InvalidCategory)?;
    templates::create(state, actor, &design).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{flow, form};

    #[test]
    fn every_gallery_design_is_valid_in_every_language() {
        for locale in Locale::ALL {
            for kind in KINDS {
                let design = design(kind, "finance-user", locale).expect(kind);
                form::check_design(&design.fields).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
                let keys: Vec<&str> = design.fields.iter().map(|f| f.key.as_str()).collect();
                flow::check(&design.flow, &keys).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
                assert!(!design.name.starts_with("approvals_pages."), "{kind} name");
                for f in &design.fields {
                    assert!(!f.label.starts_with("approvals_pages."), "{kind}.{}", f.key);
                }
            }
        }
        assert!(design("unknown", "x", Locale::default()).is_none());
    }

    #[test]
    fn expense_lines_over_5000_route_to_the_second_level_manager() {
        let design = design("expense", "fin", Locale::default()).unwrap();
        let Node::Branch { branches, .. } = &design.flow.nodes[1] else {
            panic!("the second node is the amount branch");
        };
        let Condition::Field { field, op, value } = &branches[0].when else {
            panic!("a field condition");
        };
        assert_eq!(
            (field.as_str(), *op, value),
            ("lines", Op::Gt, &json!(5000))
        );
    }
}
