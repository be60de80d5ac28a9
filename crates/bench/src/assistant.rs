//! The AI assistant's evaluation against a real `tram` process: the owner
//! loads the sample knowledge base of a fictional Hong Kong company
//! (`data/assistant/knowledge.json`) through the API, adds the assistant to
//! a group, and a member @mentions it with every question of
//! `data/assistant/questions.json`, reading each reply from the group's
//! history (the same path as the chat page). Offline: no LLM is configured.

use anyhow::{anyhow, Context};
use serde_json::json;
use tram_testkit::assistant_eval;

use crate::node::{Backend, TramNode};
use crate::org;

pub async fn run(backend: &Backend) -> anyhow::Result<()> {
    // The job runner polls every 20 ms instead of 500 ms, so latency shows
    // the assistant's work rather than the polling interval.
    let node = TramNode::start(
        "assistant",
        backend,
        "dev_mode = true\n[jobs]\npoll_ms = 20\n",
    )
    .await?;
    let owner = org::setup(&node.base).await?;
    let members = org::add_members(&owner, 1, 1).await?;
    let (asker, asker_id) = &members[0];
    let group = org::create_group(&owner, "全體同事", &[asker_id.as_str()]).await?;
    let (status, robot) = owner
        .post_json(
            &format!("/api/v1/conversations/{group}/assistant"),
            json!({}),
        )
        .await;
    anyhow::ensure!(status == 200, "adding the assistant: {status} {robot}");
    let robot_id = robot["id"].as_str().context("robot id")?.to_string();
    let robot_name = robot["name"].as_str().context("robot name")?.to_string();
    let ids = assistant_eval::load(&owner).await.map_err(|e| anyhow!(e))?;
    let report = assistant_eval::run(asker, &group, (&robot_id, &robot_name), &ids)
        .await
        .map_err(|e| anyhow!(e))?;
    println!("## AI assistant ({}, offline)\n", backend.name());
    println!("| measure | result | target |\n|---|---|---|");
    println!(
        "| top-1 correct (answerable) | {}/{} = {:.1}% | ≥ 90% |",
        report.correct,
        report.answerable,
        report.correct_rate() * 100.0
    );
    println!(
        "| correct refusals (no answer in the base) | {}/{} = {:.1}% | ≥ 95% |",
        report.correct_refusals,
        report.unanswerable,
        report.refusal_rate() * 100.0
    );
    println!("| false refusals | {} | |", report.false_refusals.len());
    println!(
        "| answered from the wrong entry | {} | |",
        report.wrong.len()
    );
    println!(
        "| latency, @mention to reply in history (p50 / p95 / max) | {:.0} / {:.0} / {:.0} ms | |",
        report.latency(0.5),
        report.latency(0.95),
        report.latency(1.0)
    );
    for (label, list) in [
        ("false refusals", &report.false_refusals),
        ("wrong entry", &report.wrong),
        ("answered but should refuse", &report.false_answers),
    ] {
        if !list.is_empty() {
            println!("\n{label}: {}", list.join(" · "));
        }
    }
    drop(node);
    Ok(())
}
