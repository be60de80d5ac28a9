//! What routing needs to know about the org, read through the org
//! domain's service functions once per submission.

use std::collections::{HashMap, HashSet};

use tram_org::{departments, members};
use tram_platform::db::Db;

use crate::error::ApprovalResult;
use crate::route::{DepartmentInfo, Directory, Person};

/// Longest manager chain followed (the org keeps chains free of loops).
const MAX_CHAIN: usize = 10;

pub async fn load(db: &Db, org_id: &str, submitter: &str) -> ApprovalResult<Directory> {
    let members = members::list(db, org_id).await?;
    let by_id: HashMap<&str, &members::Member> =
        members.iter().map(|m| (m.user_id.as_str(), m)).collect();
    let mut directory = Directory {
        submitter: submitter.to_string(),
        members: members.iter().map(|m| m.user_id.clone()).collect(),
        ..Directory::default()
    };
    for member in &members {
        directory
            .roles
            .entry(member.role.as_str().to_string())
            .or_default()
            .push(member.user_id.clone());
    }
    // Managers upwards; one who left the org ends the chain (who managed
    // them is no longer known).
    let mut seen = HashSet::from([submitter.to_string()]);
    let mut cursor = by_id.get(submitter).and_then(|m| m.manager_user_id.clone());
    while let Some(manager) = cursor.take() {
        if directory.managers.len() >= MAX_CHAIN || !seen.insert(manager.clone()) {
            break;
        }
        match by_id.get(manager.as_str()) {
            Some(m) => {
                cursor = m.manager_user_id.clone();
                directory.managers.push(Person {
                    user_id: manager,
                    active: true,
                });
            }
            None => directory.managers.push(Person {
                user_id: manager,
                active: false,
            }),
        }
    }
    // The submitter's department and those above it.
    let all = departments::list(db, org_id).await?;
    let by_dept: HashMap<&str, &departments::Department> =
        all.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut dept = by_id.get(submitter).and_then(|m| m.department_id.clone());
    while let Some(id) = dept.take() {
        let Some(d) = by_dept.get(id.as_str()) else {
            break;
        };
        if directory.departments.iter().any(|known| known.id == d.id) {
            break;
        }
        directory.departments.push(DepartmentInfo {
            id: d.id.clone(),
            head: d.head_user_id.clone(),
        });
        dept = d.parent_id.clone();
    }
    Ok(directory)
}
