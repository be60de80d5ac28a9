//! What routing needs to know about the org, read through the org
//! domain's service functions once per submission: the submitter's
//! managers and departments upwards, the admins and owners, and which of
//! the people the template and the form name are members. (Three short
//! reads, whatever the size of the org.)

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use tram_org::{departments, members};
use tram_platform::db::Db;

use crate::error::ApprovalResult;
use crate::flow::{Node, Who};
use crate::form::FieldKind;
use crate::route::{DepartmentInfo, Directory, Person};
use crate::templates::Template;

/// Longest manager chain followed (the org keeps chains free of loops).
const MAX_CHAIN: usize = 10;

pub async fn load(
    db: &Db,
    org_id: &str,
    submitter: &str,
    template: &Template,
    values: &Map<String, Value>,
) -> ApprovalResult<Directory> {
    let managers: Vec<Person> = members::managers_above(db, org_id, submitter, MAX_CHAIN)
        .await?
        .into_iter()
        .map(|link| Person {
            user_id: link.user_id,
            active: link.member,
        })
        .collect();
    let departments: Vec<DepartmentInfo> = departments::chain_of(db, org_id, submitter)
        .await?
        .into_iter()
        .map(|link| DepartmentInfo {
            id: link.id,
            head: link.head,
        })
        .collect();
    // Whether they are members is asked of everyone the route may name:
    // people named in the flow or picked on the form, department heads.
    let mut named: Vec<&str> = vec![submitter];
    let mut picked: Vec<&str> = Vec::new();
    each_who(&template.flow.nodes, &mut |who| match who {
        Who::Person { user_id } => named.push(user_id),
        Who::PickedInField { field } => picked.push(field),
        _ => {}
    });
    named.extend(
        template
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Person) || picked.contains(&f.key.as_str()))
            .filter_map(|f| values.get(&f.key)?.as_str()),
    );
    named.extend(departments.iter().filter_map(|d| d.head.as_deref()));
    named.sort_unstable();
    named.dedup();
    let mut roles: HashMap<String, Vec<String>> = HashMap::new();
    let mut members: HashSet<String> = managers
        .iter()
        .filter(|m| m.active)
        .map(|m| m.user_id.clone())
        .collect();
    for (user_id, role) in members::roles_of(db, org_id, &named, true).await? {
        if role.is_admin() {
            roles
                .entry(role.as_str().to_string())
                .or_default()
                .push(user_id.clone());
        }
        members.insert(user_id);
    }
    for people in roles.values_mut() {
        people.sort();
    }
    Ok(Directory {
        submitter: submitter.to_string(),
        managers,
        departments,
        roles,
        members,
    })
}

/// Calls `visit` with everyone a flow names, in every branch.
fn each_who<'a>(nodes: &'a [Node], visit: &mut impl FnMut(&'a Who)) {
    for node in nodes {
        match node {
            Node::Approver { approvers, .. } => approvers.iter().for_each(&mut *visit),
            Node::Cc { recipients, .. } => recipients.iter().for_each(&mut *visit),
            Node::Branch {
                branches, default, ..
            } => {
                for branch in branches {
                    each_who(&branch.nodes, visit);
                }
                each_who(default, visit);
            }
        }
    }
}
