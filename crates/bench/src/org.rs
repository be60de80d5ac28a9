//! Populating a fresh server through its API: the first-run owner, and
//! members who register with an e-mail code read from the development
//! outbox and join with an invitation.

use anyhow::{bail, Context};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tram_testkit::browser::Client;
use tram_testkit::find_code;

pub const PASSWORD: &str = "bench password 2026";
pub const OWNER: &str = "owner@bench.test";

/// First-run setup; returns the owner's logged-in client.
pub async fn setup(base: &str) -> anyhow::Result<Client> {
    let owner = Client::new(base);
    let (status, body) = owner
        .post_json(
            "/api/v1/setup",
            json!({ "org_name": "基準測試有限公司", "display_name": "Owner", "email": OWNER, "password": PASSWORD }),
        )
        .await;
    if status != 200 {
        bail!("setup failed: {status} {body}");
    }
    Ok(owner)
}

/// Registers `count` members (member{i}@bench.test) into the owner's
/// organisation, `parallel` at a time; returns their logged-in clients and
/// user ids.
pub async fn add_members(
    owner: &Client,
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<(Client, String)>> {
    // An invitation admits at most 1,000 people: one per block of 500.
    let mut codes = Vec::new();
    for _ in 0..count.div_ceil(500) {
        let (status, invitation) = owner
            .post_json(
                "/api/v1/org/invitations",
                json!({ "role": "member", "max_uses": 500 }),
            )
            .await;
        if status != 200 {
            bail!("invitation: {status} {invitation}");
        }
        codes.push(
            invitation["code"]
                .as_str()
                .context("invitation code")?
                .to_string(),
        );
    }
    stream::iter(0..count)
        .map(|i| {
            let (owner, code) = (owner.clone(), codes[i / 500].clone());
            async move { register(&owner, &code, i).await }
        })
        .buffered(parallel)
        .try_collect()
        .await
}

/// Creates a group of the owner's with `member_ids` in it; returns its id.
pub async fn create_group(
    owner: &Client,
    name: &str,
    member_ids: &[&str],
) -> anyhow::Result<String> {
    let (status, group) = owner
        .post_json(
            "/api/v1/conversations",
            json!({ "name": name, "member_ids": member_ids }),
        )
        .await;
    if status != 200 {
        bail!("creating the group {name}: {status} {group}");
    }
    Ok(group["conversation_id"]
        .as_str()
        .context("conversation id")?
        .to_string())
}

/// An organisation of `people` (the owner and `people - 1` members who
/// registered through the API, which is timed and reported) in one group.
pub struct Team {
    pub owner: Client,
    pub members: Vec<(Client, String)>,
    pub conversation: String,
}

pub async fn team_in_one_group(base: &str, people: usize, parallel: usize) -> anyhow::Result<Team> {
    let owner = setup(base).await?;
    let began = std::time::Instant::now();
    let members = add_members(&owner, people - 1, parallel).await?;
    println!(
        "({} members registered through the API in {:.1} s)\n",
        members.len(),
        began.elapsed().as_secs_f64()
    );
    let member_ids: Vec<&str> = members.iter().map(|(_, id)| id.as_str()).collect();
    let conversation = create_group(&owner, "全體同事", &member_ids).await?;
    Ok(Team {
        owner,
        members,
        conversation,
    })
}

async fn register(owner: &Client, invitation: &str, i: usize) -> anyhow::Result<(Client, String)> {
    let email = format!("member{i}@bench.test");
    let client = Client::new(&owner.base);
    let (status, body) = client
        .post_json(
            "/api/v1/codes",
            json!({ "purpose": "register", "channel": "email", "destination": email }),
        )
        .await;
    if status != 200 {
        bail!("code for {email}: {status} {body}");
    }
    let (_, outbox) = owner
        .get_json(&format!("/api/v1/dev/outbox?to={email}"))
        .await;
    let code = outbox
        .as_array()
        .and_then(|entries| entries.first())
        .and_then(|entry| find_code(entry["body"].as_str().unwrap_or_default()))
        .context("code in the outbox (is dev_mode on?)")?;
    let (status, body) = client
        .post_json(
            "/api/v1/register",
            json!({ "channel": "email", "destination": email, "code": code,
                    "display_name": format!("成員 {i}"), "password": PASSWORD,
                    "invitation_code": invitation }),
        )
        .await;
    if status != 200 {
        bail!("register {email}: {status} {body}");
    }
    let id = user_id(&body)?;
    Ok((client, id))
}

fn user_id(body: &Value) -> anyhow::Result<String> {
    Ok(body["user"]["id"].as_str().context("user id")?.to_string())
}
