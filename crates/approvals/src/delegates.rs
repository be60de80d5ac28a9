//! Delegates (代理人): each member may name someone to take their approval
//! tasks — those still undecided at their deadline, and, during an
//! out-of-office period, every new one at once.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::args;
use tram_platform::db::{placeholders, Arg, Db};
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DelegateSetting {
    /// Who takes the tasks; `null` to name no one.
    pub delegate_id: Option<String>,
    /// Out of office from/until (Unix ms); both or neither.
    #[serde(default)]
    pub away_from: Option<i64>,
    #[serde(default)]
    pub away_until: Option<i64>,
}

pub async fn get(db: &Db, me: &Membership) -> ApprovalResult<DelegateSetting> {
    let row = sqlx::query(
        "SELECT delegate_id, away_from, away_until FROM approval_delegates WHERE org_id = $1 AND user_id = $2",
    )
    .bind(&me.org_id)
    .bind(&me.user_id)
    .fetch_optional(db.read())
    .await?;
    Ok(match row {
        Some(row) => DelegateSetting {
            delegate_id: row.try_get("delegate_id")?,
            away_from: row.try_get("away_from")?,
            away_until: row.try_get("away_until")?,
        },
        None => DelegateSetting {
            delegate_id: None,
            away_from: None,
            away_until: None,
        },
    })
}

/// Names (or clears) the member's delegate and out-of-office period.
pub async fn set(
    state: &AppState,
    me: &Membership,
    setting: &DelegateSetting,
) -> ApprovalResult<DelegateSetting> {
    let Some(delegate) = &setting.delegate_id else {
        sqlx::query("DELETE FROM approval_delegates WHERE org_id = $1 AND user_id = $2")
            .bind(&me.org_id)
            .bind(&me.user_id)
            .execute(state.db.write())
            .await?;
        return get(&state.db, me).await;
    };
    let period_ok = match (setting.away_from, setting.away_until) {
        (None, None) => true,
        (Some(from), Some(until)) => from < until,
        _ => false,
    };
    if !period_ok {
        return Err(ApprovalError::InvalidDelegate("away"));
    }
    if delegate == &me.user_id
        || tram_org::members::membership(&state.db, &me.org_id, delegate)
            .await?
            .is_none()
    {
        return Err(ApprovalError::InvalidDelegate("delegate_id"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM approval_delegates WHERE org_id = $1 AND user_id = $2")
        .bind(&me.org_id)
        .bind(&me.user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO approval_delegates (org_id, user_id, delegate_id, away_from, away_until, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&me.org_id)
    .bind(&me.user_id)
    .bind(delegate)
    .bind(setting.away_from)
    .bind(setting.away_until)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get(&state.db, me).await
}

/// The delegate settings of the approvers a change may give tasks to,
/// read on the read pool before its transaction begins, so the writer is
/// not held for them. (A setting saved meanwhile counts from the next
/// change, as if saved a moment later.)
pub(crate) struct Delegates {
    org_id: String,
    /// No one in the org has named a delegate.
    nobody: bool,
    /// By member: their delegate (still in the org) and out-of-office
    /// period; `None` for a member who named no one.
    known: HashMap<String, Option<Named>>,
}

#[derive(Clone)]
struct Named {
    delegate_id: String,
    away_from: Option<i64>,
    away_until: Option<i64>,
}

impl Delegates {
    /// Reads the settings of `users`.
    pub async fn load<'a>(
        db: &Db,
        org_id: &str,
        users: impl IntoIterator<Item = &'a str>,
    ) -> ApprovalResult<Delegates> {
        let mut known: HashMap<String, Option<Named>> =
            users.into_iter().map(|u| (u.to_string(), None)).collect();
        if !known.is_empty() {
            let sql = format!(
                "SELECT user_id, delegate_id, away_from, away_until FROM approval_delegates \
                 WHERE org_id = $1 AND user_id IN ({})",
                placeholders(2, known.len())
            );
            let mut args = args![org_id];
            args.extend(known.keys().map(Arg::from));
            let rows = db.read_rows(&sql, args).await?;
            // A delegate who has left the org takes nothing.
            let delegates: Vec<String> = rows
                .iter()
                .map(|row| row.try_get("delegate_id"))
                .collect::<Result<_, _>>()?;
            let delegates: Vec<&str> = delegates.iter().map(String::as_str).collect();
            let present: HashSet<String> =
                tram_org::members::roles_of(db, org_id, &delegates, false)
                    .await?
                    .into_iter()
                    .map(|(user_id, _)| user_id)
                    .collect();
            for row in rows {
                let delegate_id: String = row.try_get("delegate_id")?;
                if !present.contains(&delegate_id) {
                    continue;
                }
                known.insert(
                    row.try_get("user_id")?,
                    Some(Named {
                        delegate_id,
                        away_from: row.try_get("away_from")?,
                        away_until: row.try_get("away_until")?,
                    }),
                );
            }
        }
        Ok(Delegates {
            org_id: org_id.to_string(),
            nobody: false,
            known,
        })
    }

    /// For an org where no one has named a delegate.
    pub fn nobody(org_id: &str) -> Delegates {
        Delegates {
            org_id: org_id.to_string(),
            nobody: true,
            known: HashMap::new(),
        }
    }

    /// The member's delegate, if one is named and still in the org; and
    /// whether the member is out of office at `now`. A member not read
    /// beforehand (an approver added meanwhile) is read now.
    pub async fn of(
        &mut self,
        db: &Db,
        user_id: &str,
        now: i64,
    ) -> ApprovalResult<Option<(String, bool)>> {
        if self.nobody {
            return Ok(None);
        }
        if !self.known.contains_key(user_id) {
            let one = Delegates::load(db, &self.org_id, [user_id]).await?;
            self.known.extend(one.known);
        }
        Ok(self.known.get(user_id).cloned().flatten().map(|named| {
            let away = matches!((named.away_from, named.away_until),
                (Some(f), Some(u)) if f <= now && now < u);
            (named.delegate_id, away)
        }))
    }
}
