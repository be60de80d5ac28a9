//! Devices and sessions: listing, renaming, remote logout by the user and
//! by an org admin, and the "only registered devices" policy.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{error_code, Client, TestServer, PASSWORD};

async fn device_of(c: &Client) -> String {
    let (_, devices) = c.get_json("/api/v1/devices").await;
    devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn removing_a_device_logs_it_out_at_once() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let laptop = t.client();
    laptop.login("owner@example.com", PASSWORD).await;
    let laptop_device = device_of(&laptop).await;

    let (status, devices) = owner.get_json("/api/v1/devices").await;
    assert_eq!(status, 200);
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let laptop_view = devices
        .iter()
        .find(|d| d["id"] == laptop_device.as_str())
        .unwrap();
    assert_eq!(laptop_view["browser"], "Chrome 120");
    assert_eq!(laptop_view["last_ip"], "127.0.0.1");
    assert_eq!(laptop_view["sessions"].as_array().unwrap().len(), 1);

    let (status, _) = owner
        .call(
            Method::PATCH,
            &format!("/api/v1/devices/{laptop_device}"),
            json!({ "name": "辦公室電腦" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, devices) = owner.get_json("/api/v1/devices").await;
    assert!(devices
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "辦公室電腦"));

    let (status, _) = owner
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{laptop_device}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = laptop.get_json("/api/v1/me").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (401, "unauthenticated")
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'session.remote_logout'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'device.removed'")
            .await,
        1
    );
    t.stop().await;
}

#[tokio::test]
async fn one_session_can_be_ended_and_strangers_cannot_touch_devices() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let other = t
        .register_email("bob@example.com", "Bob", Some("Bob Ltd"), None)
        .await;
    let owner_device = device_of(&owner).await;
    // Bob guessing the owner's device id gets "not found", and changes nothing.
    let (status, _) = other
        .call(
            Method::DELETE,
            &format!("/api/v1/devices/{owner_device}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(owner.get_json("/api/v1/me").await.0, 200);

    let tablet = t.client();
    tablet.login("owner@example.com", PASSWORD).await;
    let (_, me) = tablet.get_json("/api/v1/me").await;
    let session = me["session_id"].as_str().unwrap();
    let (status, _) = owner
        .call(
            Method::DELETE,
            &format!("/api/v1/sessions/{session}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(tablet.get_json("/api/v1/me").await.0, 401);
    assert_eq!(owner.get_json("/api/v1/me").await.0, 200);
    t.stop().await;
}

#[tokio::test]
async fn an_admin_can_log_a_member_out_remotely() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let invitation = t.invite(&owner, "member").await;
    let member = t
        .register_email("staff@example.com", "Staff", None, Some(&invitation))
        .await;
    let (_, me) = member.get_json("/api/v1/me").await;
    let member_id = me["user"]["id"].as_str().unwrap().to_string();
    let (status, devices) = owner
        .get_json(&format!("/api/v1/org/members/{member_id}/devices"))
        .await;
    assert_eq!(status, 200);
    let device_id = devices[0]["id"].as_str().unwrap().to_string();
    // A plain member may not look at another member's devices.
    let (_, owner_me) = owner.get_json("/api/v1/me").await;
    let owner_id = owner_me["user"]["id"].as_str().unwrap();
    let (status, body) = member
        .get_json(&format!("/api/v1/org/members/{owner_id}/devices"))
        .await;
    assert_eq!((status.as_u16(), error_code(&body)), (403, "admin_only"));

    let (status, _) = owner
        .call(
            Method::PATCH,
            &format!("/api/v1/org/members/{member_id}/devices/{device_id}"),
            json!({ "name": "前台電腦" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, devices) = member.get_json("/api/v1/devices").await;
    assert_eq!(devices[0]["name"], "前台電腦");
    let (status, _) = owner
        .call(
            Method::DELETE,
            &format!("/api/v1/org/members/{member_id}/devices/{device_id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(member.get_json("/api/v1/me").await.0, 401);
    let (_, audit) = owner
        .get_json("/api/v1/org/audit?kind=session.remote_logout")
        .await;
    let event = &audit.as_array().unwrap()[0];
    assert_eq!(event["user_id"], member_id.as_str());
    assert_eq!(event["actor_id"], owner_id);
    t.stop().await;
}

#[tokio::test]
async fn with_the_device_policy_on_a_new_device_waits_for_approval() {
    let t = TestServer::start().await;
    let owner = t.setup().await;
    let invitation = t.invite(&owner, "member").await;
    let member = t
        .register_email("staff@example.com", "Staff", None, Some(&invitation))
        .await;
    let (status, _) = owner
        .call(
            Method::PUT,
            "/api/v1/org/policy",
            json!({ "require_device_approval": true }),
        )
        .await;
    assert_eq!(status, 200);
    // Devices in use when the policy was switched on keep working.
    assert_eq!(member.get_json("/api/v1/org").await.0, 200);

    let phone = t.client();
    let (status, _) = phone.login("staff@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    let (status, body) = phone.get_json("/api/v1/org").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (403, "device_pending")
    );
    let (status, _) = phone.get_json("/api/v1/org/members").await;
    assert_eq!(status, 403, "nothing of the org is reachable");

    let (_, requests) = owner.get_json("/api/v1/org/device-requests").await;
    let pending: Vec<&Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 1);
    let device_id = pending[0]["device_id"].as_str().unwrap();
    let (status, _) = owner
        .post_json(
            &format!("/api/v1/org/device-requests/{device_id}"),
            json!({ "approve": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(phone.get_json("/api/v1/org").await.0, 200);

    // A refused device stays out.
    let other = t.client();
    other.login("staff@example.com", PASSWORD).await;
    other.get_json("/api/v1/org").await;
    let (_, requests) = owner.get_json("/api/v1/org/device-requests").await;
    let pending = requests
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "pending")
        .unwrap();
    let id = pending["device_id"].as_str().unwrap();
    owner
        .post_json(
            &format!("/api/v1/org/device-requests/{id}"),
            json!({ "approve": false }),
        )
        .await;
    let (status, body) = other.get_json("/api/v1/org").await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (403, "device_rejected")
    );

    // The owner's own new devices always pass (nobody can be locked out).
    let owner_laptop = t.client();
    owner_laptop.login("owner@example.com", PASSWORD).await;
    assert_eq!(owner_laptop.get_json("/api/v1/org").await.0, 200);
    t.stop().await;
}
