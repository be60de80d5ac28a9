//! Check-in robots over real HTTP and WebSocket: a run posts a card live
//! whose button opens the run's page; each member of the group checks in
//! once (strangers cannot); the roster shows who has and who has not; the
//! reminder @mentions, once, those who have not, with a mention
//! notification.

use serde_json::json;

use crate::chat::{group, Team};
use crate::kit::error_code;
use crate::robots_schedule::{add_schedule, advance_to, quiet_team, robot_posts, run_due};

#[tokio::test]
async fn check_in_cards_record_each_member_once_and_remind_those_who_have_not() {
    let Team {
        t,
        owner,
        alice: (alice, alice_id),
        bob: (bob, bob_id),
    } = quiet_team().await;
    let g = group(&alice, "打卡群", &[&bob_id]).await;
    let made = add_schedule(
        &alice,
        &g,
        json!({ "kind": "checkin", "name": "打卡機器人", "rule": "daily", "time": "09:00",
                "body": "早晨！請打卡", "remind_after_min": "30" }),
    )
    .await;
    assert_eq!(made["kind"], "checkin");
    let robot = made["robot_id"].as_str().unwrap().to_string();
    let due = made["next_due"].as_i64().unwrap();
    let mut bob_socket = bob.socket().await;
    bob_socket.expect("ready", 2.0).await;
    let mut alice_socket = alice.socket().await;
    alice_socket.expect("ready", 2.0).await;
    advance_to(&t, due + 1_000);
    run_due(&t).await;
    assert_eq!(robot_posts(&t, &robot).await, 1);
    // The card arrives live.
    let live = bob_socket.expect("message", 2.0).await;
    assert_eq!(live["message"]["kind"], "card");
    assert_eq!(live["message"]["robot_id"], robot.as_str());
    alice_socket.expect("message", 2.0).await;
    let (_, history) = bob
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await;
    let card = history
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "card")
        .cloned()
        .unwrap_or_else(|| panic!("a card in {history}"));
    let text = card.to_string();
    let run_path = format!("/chat/{g}/checkins/{robot}/{due}");
    assert!(text.contains(&run_path), "the button opens the run: {text}");
    assert!(text.contains("打卡"), "{text}");

    let api = format!("/api/v1/conversations/{g}/checkins/{robot}/{due}");
    let (status, answer) = bob.post_json(&api, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = bob.post_json(&api, json!({})).await;
    assert_eq!(status, 409, "once per member: {answer}");
    assert_eq!(error_code(&answer), "already_checked_in");
    let (status, _) = owner.post_json(&api, json!({})).await;
    assert_eq!(status, 404, "not a member of the group");

    let (_, roster) = alice.get_json(&api).await;
    let entries = roster["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let checked = |id: &str| {
        entries
            .iter()
            .find(|e| e["user_id"] == id)
            .map(|e| !e["checked_at"].is_null())
            .unwrap()
    };
    assert!(checked(&bob_id));
    assert!(!checked(&alice_id));
    // The run's page shows both.
    let page = alice.get(&run_path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-checked=\"yes\"") && html.contains("data-checked=\"no\""));
    assert!(html.contains("checkin-button"), "Alice may still check in");

    // Half an hour later: one reminder, @Alice only.
    advance_to(&t, due + 30 * 60_000 + 1_000);
    run_due(&t).await;
    run_due(&t).await;
    assert_eq!(
        robot_posts(&t, &robot).await,
        2,
        "the card and one reminder"
    );
    let (_, history) = alice
        .get_json(&format!("/api/v1/conversations/{g}/messages"))
        .await;
    let reminder = history
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| m["kind"] == "text")
        .cloned()
        .unwrap();
    assert_eq!(reminder["mentions"], json!([alice_id]), "{reminder}");
    assert!(reminder["body"].as_str().unwrap().contains("@Alice"));
    t.stop().await;
}
