//! `tram-bench approvals`: a three-node expense flow with a condition
//! branch (manager; amount > HK$5,000 → second-level manager; finance)
//! driven over HTTP by concurrent clients: each worker submits a request
//! and approves it step by step as the right approver until it is
//! archived. Reports completed instances per second and the latency of one
//! approve action.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use tram_testkit::browser::Client;

use crate::node::{self, Backend, TramNode};
use crate::org;
use crate::stats::Samples;

const SETTINGS: &str = "[security]\ncodes_per_ip_per_hour = 1000000\n";

pub struct Options {
    pub instances: usize,
    pub clients: usize,
    /// How long to follow the notice queue after the run.
    pub follow_notices: Duration,
}

fn design(finance: &str) -> Value {
    json!({
        "name": "報銷", "category": "expense",
        "fields": [
            { "key": "reason", "label": "事由", "type": "short_text", "required": true },
            { "key": "amount", "label": "金額", "type": "money", "required": true }
        ],
        "flow": { "nodes": [
            { "type": "approver", "id": "manager", "name": "直屬主管", "approvers": [{ "kind": "manager" }] },
            { "type": "branch", "id": "amount", "branches": [
                { "name": "超過 HK$5,000", "when": { "kind": "field", "field": "amount", "op": "gt", "value": 5000 },
                  "nodes": [ { "type": "approver", "id": "second", "name": "二級主管", "approvers": [{ "kind": "manager", "level": 2 }] } ] }
            ] },
            { "type": "approver", "id": "finance", "name": "財務", "approvers": [{ "kind": "person", "user_id": finance }] }
        ] }
    })
}

/// One request from submission to the archive; the approve latencies.
async fn carry(
    submitter: &Client,
    approvers: &HashMap<String, Client>,
    template: &str,
    amount: u32,
) -> anyhow::Result<Vec<Duration>> {
    let (status, mut instance) = submitter
        .post_json(
            &format!("/api/v1/approvals/templates/{template}/submit"),
            json!({ "values": { "reason": "基準", "amount": amount } }),
        )
        .await;
    if status != 200 {
        bail!("submit: {status} {instance}");
    }
    let mut took = Vec::new();
    while instance["status"] == "pending" {
        let task = instance["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["status"] == "pending"))
            .context("a pending task")?;
        let who = task["assignee_id"].as_str().context("assignee")?;
        let client = approvers.get(who).context("an approver of ours")?;
        let began = Instant::now();
        let (status, next) = client
            .post_json(
                &format!(
                    "/api/v1/approvals/tasks/{}/decision",
                    task["id"].as_str().unwrap_or_default()
                ),
                json!({ "decision": "approve" }),
            )
            .await;
        took.push(began.elapsed());
        if status != 200 {
            bail!("approve: {status} {next}");
        }
        instance = next;
    }
    if instance["status"] != "approved" {
        bail!("ended {}", instance["status"]);
    }
    Ok(took)
}

pub async fn run(backend: &Backend, options: &Options) -> anyhow::Result<()> {
    let node = TramNode::start("approvals", backend, SETTINGS).await?;
    let owner = org::setup(&node.base).await?;
    let owner_id = me(&owner).await?;
    let people = org::add_members(&owner, 3, 3).await?;
    let [(staff, staff_id), (manager, manager_id), (finance, finance_id)] =
        <[(Client, String); 3]>::try_from(people)
            .ok()
            .context("three members")?;
    for (who, boss) in [(&staff_id, &manager_id), (&manager_id, &owner_id)] {
        let res = owner
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/org/members/{who}/manager"),
                json!({ "manager_user_id": boss }),
            )
            .await;
        if res.status() != 200 {
            bail!("setting a manager: {}", res.status());
        }
    }
    let (status, template) = owner
        .post_json("/api/v1/approvals/templates", design(&finance_id))
        .await;
    if status != 200 {
        bail!("template: {status} {template}");
    }
    let template = template["id"].as_str().context("template id")?.to_string();
    let approvers = Arc::new(HashMap::from([
        (manager_id, manager),
        (owner_id, owner),
        (finance_id, finance),
    ]));
    let began = Instant::now();
    let cpu_before = node::cpu_seconds(node.pid())?;
    let results: Vec<anyhow::Result<Vec<Duration>>> = stream::iter(0..options.instances)
        .map(|i| {
            let (staff, approvers, template) = (staff.clone(), approvers.clone(), template.clone());
            // Every other request is over HK$5,000 and takes the branch.
            let amount = if i % 2 == 0 { 800 } else { 6200 };
            async move { carry(&staff, &approvers, &template, amount).await }
        })
        .buffer_unordered(options.clients)
        .collect()
        .await;
    let elapsed = began.elapsed();
    let server_cpu = node::cpu_seconds(node.pid())? - cpu_before;
    let mut approve = Samples::default();
    let mut completed = 0usize;
    let mut failed = 0usize;
    for result in results {
        match result {
            Ok(took) => {
                completed += 1;
                for t in took {
                    approve.push(t);
                }
            }
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("instance failed: {e:#}");
                }
            }
        }
    }
    println!(
        "## Approvals ({}, {} instances, {} clients)\n",
        backend.name(),
        options.instances,
        options.clients
    );
    println!(
        "| completed | failed | seconds | completed/s | approve latency | server CPU per instance |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {completed} | {failed} | {:.1} | {:.1} | {} | {:.2} ms |",
        elapsed.as_secs_f64(),
        completed as f64 / elapsed.as_secs_f64(),
        approve.summary(),
        server_cpu * 1000.0 / completed.max(1) as f64
    );
    if options.follow_notices.is_zero() {
        return Ok(());
    }
    let notices = Notices::follow(&node, options.follow_notices).await?;
    let delivered = notices.waiting_at_end - notices.waiting_after;
    println!(
        "\nWork notices: {} queued in all, {} still waiting when the last request was archived; \
         {delivered} of them delivered in the {:.1} s after ({:.0}/s){}, {} failed.",
        notices.total,
        notices.waiting_at_end,
        notices.followed_for.as_secs_f64(),
        delivered as f64 / notices.followed_for.as_secs_f64().max(0.001),
        if notices.waiting_after == 0 {
            ", all of them".to_string()
        } else {
            format!(
                ", {} left when the bench stopped following",
                notices.waiting_after
            )
        },
        notices.failed
    );
    Ok(())
}

/// The chat notices the run queued (one per new task, decision and
/// outcome), which the server's job runner delivers after the change
/// commits: how many were still waiting when the last request was
/// archived, and how many the runner delivered in the (at most) five
/// minutes after.
struct Notices {
    total: i64,
    waiting_at_end: i64,
    waiting_after: i64,
    followed_for: Duration,
    failed: i64,
}

impl Notices {
    async fn follow(node: &TramNode, at_most: Duration) -> anyhow::Result<Notices> {
        const WAITING: &str =
            "SELECT COUNT(*) FROM jobs WHERE kind = 'approval.notice' AND finished_at IS NULL";
        let waiting_at_end = node.count(WAITING).await?;
        let began = Instant::now();
        let mut waiting_after = waiting_at_end;
        while waiting_after > 0 && began.elapsed() < at_most {
            tokio::time::sleep(Duration::from_millis(250)).await;
            waiting_after = node.count(WAITING).await?;
        }
        Ok(Notices {
            total: node
                .count("SELECT COUNT(*) FROM jobs WHERE kind = 'approval.notice'")
                .await?,
            waiting_at_end,
            waiting_after,
            followed_for: began.elapsed(),
            failed: node
                .count("SELECT COUNT(*) FROM jobs WHERE kind = 'approval.notice' AND failed = 1")
                .await?,
        })
    }
}

async fn me(c: &Client) -> anyhow::Result<String> {
    let (_, body) = c.get_json("/api/v1/me").await;
    Ok(body["user"]["id"]
        .as_str()
        .or(body["id"].as_str())
        .context("my id")?
        .to_string())
}
