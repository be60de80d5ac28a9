//! The development outbox: a copy of every SMS and e-mail, so that a
//! developer (or a browser test) can read codes without a real phone.

use serde::Serialize;
use sqlx::Row;

use crate::db::{new_id, Db};

pub(super) async fn store(
    db: &Db,
    at_ms: i64,
    channel: &str,
    destination: &str,
    subject: &str,
    body: &str,
) {
    let result = sqlx::query(
        "INSERT INTO dev_outbox (id, channel, destination, subject, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(channel)
    .bind(destination)
    .bind(subject)
    .bind(body)
    .bind(at_ms)
    .execute(db.write())
    .await;
    if let Err(err) = result {
        tracing::warn!(error = %err, "could not write to the development outbox");
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    pub id: String,
    /// `sms` or `email`.
    pub channel: String,
    pub destination: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
}

/// The newest messages first; `to` narrows to one destination.
pub async fn list_outbox(
    db: &Db,
    to: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, channel, destination, subject, body, created_at FROM dev_outbox \
         WHERE ($1 = '' OR destination = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(to.unwrap_or(""))
    .bind(limit.clamp(1, 500))
    .fetch_all(db.read())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(OutboxEntry {
                id: r.try_get("id")?,
                channel: r.try_get("channel")?,
                destination: r.try_get("destination")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
