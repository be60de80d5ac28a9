//! Approval notices in chat (工作通知, sender "審批"): the approver of a new
//! task gets a card with the request's title, submitter, amounts and
//! Approve / Reject / Open buttons (approve and reject decide from the
//! chat, with a comment); a reminder before the deadline; the
//! submitter hears when the request is approved, rejected or returned; CC
//! recipients get the request; an approver who decided gets a short note
//! of it. Each notice is a job enqueued in the transaction of the change it
//! tells of, and posted after that commits with an idempotency key, so a
//! notice is sent once and a failing chat never loses a decision.

use serde_json::{json, Value};
use tram_chat::cards::{ButtonAction, Card, CardButton};
use tram_chat::messages::{MessageKind, NewMessage};
use tram_chat::notices::{self, Sender};
use tram_platform::args;
use tram_platform::db::BatchedTx;
use tram_platform::i18n::Locale;
use tram_platform::jobs::{self, Job, JobResult, NewJob};
use tram_platform::AppState;

use crate::form::{self, FieldKind};
use crate::templates;

pub const NOTICE_JOB: &str = "approval.notice";
/// The service key of approval notices (see `tram_chat::notices`).
const SENDER_KEY: &str = "approvals";

/// Enqueues the notice to the approver of a new (or taken up again) task.
pub(crate) fn task_created(tx: &mut BatchedTx, task_id: &str, due: i64, now: i64) {
    let job = NewJob::new(
        NOTICE_JOB,
        format!("{NOTICE_JOB}:task:{task_id}:{due}"),
        json!({ "what": "task", "task_id": task_id }),
        now,
    )
    .retried(5, 5_000);
    jobs::queue(tx, &job, now);
}

/// Enqueues a reminder notice for a task (one per reminder job).
pub(crate) fn reminder(tx: &mut BatchedTx, task_id: &str, reminder_job: &str, now: i64) {
    let job = NewJob::new(
        NOTICE_JOB,
        format!("{NOTICE_JOB}:remind:{reminder_job}"),
        json!({ "what": "remind", "task_id": task_id }),
        now,
    )
    .retried(5, 5_000);
    jobs::queue(tx, &job, now);
}

/// Enqueues the notice a trail entry calls for, if any: the outcome to
/// the submitter, the request to CC recipients, a note to the approver
/// who decided.
pub(crate) fn trail_entry(
    tx: &mut BatchedTx,
    trail_id: &str,
    instance_id: &str,
    actor: Option<&str>,
    action: &str,
    detail: &Value,
    now: i64,
) {
    // Anything that may end a task's wait: its approver's cards lose their
    // approve / reject buttons and say what happened.
    if CLOSES_TASKS.contains(&action) {
        let job = NewJob::new(
            NOTICE_JOB,
            format!("{NOTICE_JOB}:cards:{trail_id}"),
            json!({ "what": "cards", "instance_id": instance_id }),
            now,
        )
        .retried(5, 5_000);
        jobs::queue(tx, &job, now);
    }
    let payload = match action {
        "archived" | "returned" => {
            json!({ "what": "outcome", "instance_id": instance_id, "action": action })
        }
        // The approver's rejection finishes the request: it is also the
        // submitter's outcome.
        "rejected" => json!({ "what": "outcome", "instance_id": instance_id, "action": action,
                              "actor": actor }),
        "approved" => json!({ "what": "decided", "instance_id": instance_id, "action": action,
                              "actor": actor }),
        "cc" => json!({ "what": "cc", "instance_id": instance_id, "to": detail["to"] }),
        _ => return,
    };
    let job =
        NewJob::new(NOTICE_JOB, format!("{NOTICE_JOB}:{trail_id}"), payload, now).retried(5, 5_000);
    jobs::queue(tx, &job, now);
}

/// Trail entries after which a task may no longer wait for its approver.
const CLOSES_TASKS: &[&str] = &[
    "approved",
    "rejected",
    "returned",
    "withdrawn",
    "transferred",
    "delegated",
    "added_before",
    "archived",
];

pub(crate) async fn on_notice(state: AppState, job: Job) -> JobResult {
    send(&state, &job).await.map_err(|e| e.to_string())
}

/// What a notice needs of a request.
struct About {
    org_id: String,
    instance_id: String,
    title: String,
    submitter_id: String,
    submitter_name: String,
    /// "label: value" lines of the amounts and numbers.
    key_values: Vec<String>,
}

async fn about(state: &AppState, instance_id: &str) -> Result<Option<About>, String> {
    let Some(row) = state
        .db
        .read_row(
            "SELECT org_id, template_id, template_version, submitter_id, title, form_values FROM approval_instances WHERE id = $1",
            args![instance_id],
        )
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let get = |c: &str| row.try_get::<String>(c).map_err(|e| e.to_string());
    let org_id = get("org_id")?;
    let submitter_id = get("submitter_id")?;
    let version: i64 = row.try_get("template_version").map_err(|e| e.to_string())?;
    let values: Value = serde_json::from_str(&get("form_values")?).unwrap_or(Value::Null);
    let template = templates::get(&state.db, &org_id, &get("template_id")?, Some(version))
        .await
        .map_err(|e| e.to_string())?;
    let key_values = template
        .fields
        .iter()
        .filter_map(|f| {
            let v = &values[&f.key];
            let shown = match &f.kind {
                FieldKind::Money { .. } => {
                    form::format_money(v["currency"].as_str()?, v["cents"].as_i64()?)
                }
                FieldKind::Number { .. } => v.as_f64()?.to_string(),
                _ => return None,
            };
            Some(format!("{}: {shown}", f.label))
        })
        .take(3)
        .collect();
    let submitter_name = tram_accounts::users::get(&state.db, &submitter_id)
        .await
        .map(|u| u.display_name)
        .unwrap_or_default();
    Ok(Some(About {
        org_id,
        instance_id: instance_id.to_string(),
        title: get("title")?,
        submitter_id,
        submitter_name,
        key_values,
    }))
}

async fn locale_of(state: &AppState, user_id: &str) -> Locale {
    tram_accounts::users::get(&state.db, user_id)
        .await
        .ok()
        .and_then(|u| Locale::parse(&u.locale))
        .unwrap_or_default()
}

fn page(title: &str, path: String) -> CardButton {
    CardButton {
        title: title.to_string(),
        url: path,
        action: ButtonAction::Page,
    }
}

/// The card's Markdown: submitter and key values, one per line.
fn summary(l: Locale, about: &About, lead: &str) -> String {
    let mut text = format!(
        "{lead}\n\n{}",
        l.tf(
            "notices.approval.submitter",
            &[("name", about.submitter_name.clone())]
        )
    );
    for line in &about.key_values {
        text.push_str("\n\n");
        text.push_str(line);
    }
    text
}

async fn post(
    state: &AppState,
    about: &About,
    to: &str,
    key: String,
    card: Card,
) -> Result<String, String> {
    let l = locale_of(state, to).await;
    let new = NewMessage {
        kind: MessageKind::Card,
        body: card.summary(),
        mentions: Vec::new(),
        mention_all: false,
        robot_mentions: Vec::new(),
        reply_to: None,
        client_id: Some(key),
    };
    let sender = Sender {
        key: SENDER_KEY,
        name: l.t("notices.approval.sender"),
    };
    notices::post(state, &about.org_id, to, &sender, new, Some(card))
        .await
        .map(|message| message.id)
        .map_err(|e| e.to_string())
}

async fn send(state: &AppState, job: &Job) -> Result<(), String> {
    let p = &job.payload;
    let what = p["what"].as_str().unwrap_or_default();
    match what {
        "task" | "remind" => {
            let task_id = p["task_id"].as_str().ok_or("job without a task")?;
            let Some(row) = state
                .db
                .read_row(
                    "SELECT instance_id, assignee_id, status FROM approval_tasks WHERE id = $1",
                    args![task_id],
                )
                .await
                .map_err(|e| e.to_string())?
            else {
                return Ok(());
            };
            let status: String = row.try_get("status").map_err(|e| e.to_string())?;
            // Decided (or moved) before the notice went out: nothing to ask.
            if status != "pending" {
                return Ok(());
            }
            let to: String = row.try_get("assignee_id").map_err(|e| e.to_string())?;
            let instance: String = row.try_get("instance_id").map_err(|e| e.to_string())?;
            let Some(about) = about(state, &instance).await? else {
                return Ok(());
            };
            let l = locale_of(state, &to).await;
            let lead_key = if what == "task" {
                "notices.approval.task"
            } else {
                "notices.approval.remind"
            };
            let lead = l.tf(lead_key, &[("title", about.title.clone())]);
            // Approve and reject act from the chat (a comment dialog that
            // posts the decision API as the member who clicks); without
            // the chat page's script they open the request's page with the
            // decision chosen.
            let decide = |title: &str, decision: &str| CardButton {
                title: title.to_string(),
                url: format!(
                    "/approvals/{}?task={task_id}&decision={decision}",
                    about.instance_id
                ),
                action: ButtonAction::Act {
                    api: format!("/api/v1/approvals/tasks/{task_id}/decision"),
                    values: [("decision".to_string(), decision.to_string())].into(),
                },
            };
            let card = Card::Action {
                title: about.title.clone(),
                text: summary(l, &about, &lead),
                buttons: vec![
                    decide(l.t("notices.approval.approve"), "approve"),
                    decide(l.t("notices.approval.reject"), "reject"),
                    page(
                        l.t("notices.approval.open"),
                        format!("/approvals/{}", about.instance_id),
                    ),
                ],
                horizontal: true,
            };
            let message_id = post(state, &about, &to, job.key.clone(), card).await?;
            // Kept with the task, for closing the card when it is decided.
            sqlx::query(
                "INSERT INTO approval_task_cards (task_id, message_id) VALUES ($1, $2) \
                 ON CONFLICT (task_id, message_id) DO NOTHING",
            )
            .bind(task_id)
            .bind(&message_id)
            .execute(state.db.write())
            .await
            .map_err(|e| e.to_string())?;
            Ok(())
        }
        "outcome" | "decided" | "cc" => {
            let instance = p["instance_id"].as_str().ok_or("job without a request")?;
            let Some(about) = about(state, instance).await? else {
                return Ok(());
            };
            let action = p["action"].as_str().unwrap_or("cc");
            let mut recipients: Vec<(String, &str)> = Vec::new();
            match what {
                "outcome" => {
                    recipients.push((about.submitter_id.clone(), action));
                    if let Some(actor) = p["actor"].as_str() {
                        recipients.push((actor.to_string(), "decided_rejected"));
                    }
                }
                "decided" => {
                    if let Some(actor) = p["actor"].as_str() {
                        recipients.push((actor.to_string(), "decided_approved"));
                    }
                }
                _ => {
                    for to in p["to"].as_array().into_iter().flatten() {
                        if let Some(to) = to.as_str() {
                            recipients.push((to.to_string(), "cc"));
                        }
                    }
                }
            }
            for (to, which) in recipients {
                let l = locale_of(state, &to).await;
                let lead = l.tf(
                    &format!("notices.approval.{which}"),
                    &[("title", about.title.clone())],
                );
                let card = Card::Action {
                    title: about.title.clone(),
                    text: summary(l, &about, &lead),
                    buttons: vec![page(
                        l.t("notices.approval.open"),
                        format!("/approvals/{}", about.instance_id),
                    )],
                    horizontal: true,
                };
                let key = format!("{}:{to}", job.key);
                post(state, &about, &to, key, card).await?;
            }
            Ok(())
        }
        "cards" => {
            let instance = p["instance_id"].as_str().ok_or("job without a request")?;
            close_cards(state, instance).await
        }
        _ => Err(format!("unknown notice {what}")),
    }
}

/// The task cards of a request's approvers whose tasks no longer wait for
/// them: the approve / reject buttons go (the page button stays) and the
/// card says what became of the task, in the approver's language.
async fn close_cards(state: &AppState, instance_id: &str) -> Result<(), String> {
    let Some(org_id) = state
        .db
        .read_row(
            "SELECT org_id FROM approval_instances WHERE id = $1",
            args![instance_id],
        )
        .await
        .map_err(|e| e.to_string())?
        .map(|row| row.try_get::<String>("org_id"))
        .transpose()
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let tasks = state
        .db
        .read_rows(
            "SELECT id, assignee_id, status FROM approval_tasks \
             WHERE instance_id = $1 AND kind = 'approve' AND status <> 'pending'",
            args![instance_id],
        )
        .await
        .map_err(|e| e.to_string())?;
    for task in tasks {
        let get = |c: &str| task.try_get::<String>(c).map_err(|e| e.to_string());
        let (task_id, to, status) = (get("id")?, get("assignee_id")?, get("status")?);
        let l = locale_of(state, &to).await;
        let sender = Sender {
            key: SENDER_KEY,
            name: l.t("notices.approval.sender"),
        };
        let message_ids: Vec<String> = state
            .db
            .read_rows(
                "SELECT message_id FROM approval_task_cards WHERE task_id = $1",
                args![task_id.as_str()],
            )
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|row| row.try_get("message_id"))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let cards = notices::cards(state, &org_id, &to, &sender, &message_ids)
            .await
            .map_err(|e| e.to_string())?;
        for (message_id, card) in cards {
            let Some(card) = closed(card, l.t(&format!("approvals_card.state.{status}"))) else {
                continue;
            };
            notices::replace_card(state, &org_id, &to, &sender, &message_id, card)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A task card without its decision buttons, saying `outcome`; `None` for
/// a card that has none left (already closed).
fn closed(card: Card, outcome: &str) -> Option<Card> {
    let Card::Action {
        title,
        text,
        buttons,
        horizontal,
    } = card
    else {
        return None;
    };
    let acts = |b: &CardButton| matches!(b.action, ButtonAction::Act { .. });
    if !buttons.iter().any(acts) {
        return None;
    }
    let buttons: Vec<CardButton> = buttons.into_iter().filter(|b| !acts(b)).collect();
    (!buttons.is_empty()).then(|| Card::Action {
        title,
        text: format!("{text}\n\n**{outcome}**"),
        buttons,
        horizontal,
    })
}
