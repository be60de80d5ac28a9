//! Members, roles, departments, managers and the audit log, as org admins
//! manage them; and the walls between organisations.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{error_code, Client, TestServer};

async fn user_id(c: &Client) -> String {
    c.get_json("/api/v1/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn join(t: &TestServer, owner: &Client, email: &str, name: &str) -> (Client, String) {
    let invitation = t.invite(owner, "member").await;
    let c = t.register_email(email, name, None, Some(&invitation)).await;
    let id = user_id(&c).await;
    (c, id)
}

#[tokio::test]
async fn roles_follow_the_rules() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let owner_id = user_id(&owner).await;
    let (alice, alice_id) = join(&t, &owner, "alice@example.com", "Alice").await;
    let (_bob, bob_id) = join(&t, &owner, "bob@example.com", "Bob").await;

    // A member cannot change roles.
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{bob_id}/role"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "admin_only"));
    // The owner makes Alice an admin.
    let (status, _) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{alice_id}/role"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(status, 200);
    // An admin may promote a member to admin but not touch the owner.
    let (status, _) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{bob_id}/role"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{owner_id}/role"),
            json!({ "role": "member" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "owner_only"));
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{bob_id}/role"),
            json!({ "role": "owner" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "owner_only"));
    // The last owner stays an owner.
    let (status, body) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{owner_id}/role"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (409, "last_owner"));
    let (status, body) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{bob_id}/role"),
            json!({ "role": "boss" }),
        )
        .await;
    assert!(status == 400 || status == 422, "{status} {body}");
    let (_, members) = owner.get_json("/api/v1/org/members").await;
    let roles: Vec<(String, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["display_name"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(roles.contains(&("Alice".into(), "admin".into())));
    assert!(roles.contains(&("Bob".into(), "admin".into())));
    assert!(roles.contains(&("陳大文".into(), "owner".into())));
    let (_, audit) = owner
        .get_json("/api/v1/org/audit?kind=member.role_changed")
        .await;
    assert_eq!(audit.as_array().unwrap().len(), 2);
    t.stop().await;
}

#[tokio::test]
async fn departments_form_a_tree_with_heads_and_managers_never_loop() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let owner_id = user_id(&owner).await;
    let (_a, alice) = join(&t, &owner, "alice@example.com", "Alice").await;
    let (_b, bob) = join(&t, &owner, "bob@example.com", "Bob").await;

    let (status, finance) = owner
        .post_json(
            "/api/v1/org/departments",
            json!({ "name": "財務部", "head_user_id": alice }),
        )
        .await;
    assert_eq!(status, 200, "{finance}");
    let finance = finance["id"].as_str().unwrap().to_string();
    let (_, payable) = owner
        .post_json(
            "/api/v1/org/departments",
            json!({ "name": "應付帳款組", "parent_id": finance }),
        )
        .await;
    let payable = payable["id"].as_str().unwrap().to_string();
    let (status, body) = owner
        .post_json("/api/v1/org/departments", json!({ "name": "" }))
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_department_name")
    );

    // Moving a department under its own child would cut it off.
    let (status, body) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/org/departments/{finance}"),
            json!({ "name": "財務部", "parent_id": payable }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "department_cycle")
    );

    let (status, _) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{bob}/placement"),
            json!({ "department_id": payable, "title": "會計文員" }),
        )
        .await;
    assert_eq!(status, 200);
    // The head of Bob's department is found up the tree.
    let state = t.state();
    let org_id = owner.get_json("/api/v1/org").await.1["org"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        tram_org::departments::head_for(&state.db, &org_id, &bob)
            .await
            .unwrap(),
        Some(alice.clone())
    );

    let (_, tree) = owner.get_json("/api/v1/org/departments").await;
    let names: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["財務部", "應付帳款組"]);
    let (status, body) = owner
        .call(
            Method::DELETE,
            &format!("/api/v1/org/departments/{payable}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (409, "department_not_empty")
    );

    // Managers: Bob → Alice → owner; owner → Bob would be a loop.
    for (who, manager) in [(&bob, &alice), (&alice, &owner_id)] {
        let (status, _) = owner
            .call(
                Method::PUT,
                &format!("/api/v1/org/members/{who}/manager"),
                json!({ "manager_user_id": manager }),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, body) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{owner_id}/manager"),
            json!({ "manager_user_id": bob }),
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (400, "manager_cycle"));
    let chain = tram_org::members::manager_chain(&state.db, &org_id, &bob, 5)
        .await
        .unwrap();
    assert_eq!(chain, vec![alice.clone(), owner_id.clone()]);
    let (_, member) = owner.get_json(&format!("/api/v1/org/members/{bob}")).await;
    assert_eq!(member["manager_name"], "Alice");
    assert_eq!(member["department_name"], "應付帳款組");
    assert_eq!(member["title"], "會計文員");
    t.stop().await;
}

#[tokio::test]
async fn another_orgs_admin_sees_and_touches_nothing_even_by_guessing_ids() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (_staff, staff_id) = join(&t, &owner, "staff@example.com", "Staff").await;
    let (_, dept) = owner
        .post_json("/api/v1/org/departments", json!({ "name": "人事部" }))
        .await;
    let dept = dept["id"].as_str().unwrap().to_string();
    let rival = t
        .register_email("rival@example.com", "Rival", Some("對手公司"), None)
        .await;

    let (status, _) = rival
        .get_json(&format!("/api/v1/org/members/{staff_id}"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = rival
        .get_json(&format!("/api/v1/org/members/{staff_id}/devices"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = rival
        .call(
            Method::PUT,
            &format!("/api/v1/org/members/{staff_id}/role"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = rival
        .call(
            Method::DELETE,
            &format!("/api/v1/org/departments/{dept}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, members) = rival.get_json("/api/v1/org/members").await;
    assert_eq!(
        members.as_array().unwrap().len(),
        1,
        "only the rival's own org"
    );
    let (_, audit) = rival.get_json("/api/v1/org/audit").await;
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["user_name"] == "Rival" || e["user_id"].is_null() || e["org_id"].is_string()));
    assert!(
        !audit.to_string().contains("staff@"),
        "no events of the other org's members"
    );
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM departments WHERE id = '{dept}'"
        ))
        .await,
        1
    );
    t.stop().await;
}

#[tokio::test]
async fn the_audit_log_records_security_events_and_filters_them() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (member, member_id) = join(&t, &owner, "staff@example.com", "Staff").await;
    member.login("staff@example.com", "wrong password").await;
    t.advance(61);
    let (status, _) = member
        .post_json("/api/v1/codes", json!({ "purpose": "reset_password", "channel": "email", "destination": "staff@example.com" }))
        .await;
    assert_eq!(status, 200);
    let (_, all) = owner.get_json("/api/v1/org/audit?limit=500").await;
    let kinds: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for expected in [
        "register",
        "login.success",
        "login.failure",
        "code.sent",
        "org.created",
        "member.invited",
        "member.joined",
        "device.added",
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected} missing from {kinds:?}"
        );
    }
    let (_, logins) = owner.get_json("/api/v1/org/audit?kind=login.").await;
    assert!(logins
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"].as_str().unwrap().starts_with("login.")));
    let (_, failures) = owner
        .get_json(&format!(
            "/api/v1/org/audit?kind=login.failure&user_id={member_id}"
        ))
        .await;
    let failures: &Vec<Value> = failures.as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["ip"], "127.0.0.1");
    let future = t.clock.now_ms() + 60_000;
    let (_, none) = owner
        .get_json(&format!("/api/v1/org/audit?from={future}"))
        .await;
    assert!(none.as_array().unwrap().is_empty());
    let (status, body) = member.get_json("/api/v1/org/audit").await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "admin_only"));
    t.stop().await;
}

/// On SQLite a node remembers sessions and memberships for a while; a
/// change to them takes effect on the very next request.
#[tokio::test]
async fn a_removed_member_is_refused_at_once() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let (alice, alice_id) = join(&t, &owner, "alice@example.com", "Alice").await;
    // Alice's session and membership are read (and remembered).
    let (status, _) = alice.get_json("/api/v1/org/members").await;
    assert_eq!(status, 200);
    let (_, me) = alice.get_json("/api/v1/me").await;
    assert!(me["org_id"].is_string(), "{me}");

    let (status, _) = owner
        .call(
            Method::DELETE,
            &format!("/api/v1/org/members/{alice_id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = alice.get_json("/api/v1/org/members").await;
    assert_ne!(status, 200, "a removed member is refused at once: {body}");
    let (_, me) = alice.get_json("/api/v1/me").await;
    assert!(me["org_id"].is_null(), "the session left the org: {me}");
    t.stop().await;
}
