//! Files on approval forms (attachment fields). A file is uploaded before
//! the form is sent: it is checked and staged by chat's upload code
//! (`tram_chat::attachments::stage_upload`: name, size limit, type by
//! content), kept in the blob layer under `apf_<id>`, and recorded
//! unclaimed — only its uploader may put it on a request. Submitting (or
//! resubmitting) claims the files the values name, in the transaction that
//! stores the request, so a refused submission claims nothing. Unclaimed
//! files are swept a day after upload (on the uploader's next upload and
//! at start-up), and blobs no row refers to at start-up.
//!
//! A claimed file is downloaded through its request: whoever may see the
//! request (`instances::get`) may fetch it, nobody else.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use futures::Stream;
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::args;
use tram_platform::db::{new_id, BatchedTx};
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};
use crate::form::{Field, FieldError, FieldKind};

/// Largest file on a form: 20 MiB.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// How long an upload may wait for its form before it is swept.
pub const UNCLAIMED_MS: i64 = 24 * 3600 * 1000;
/// The blob keys of approval files start with this.
const KEY_PREFIX: &str = "apf_";

fn key(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalFile {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// The request it is on (none until submitted).
    pub instance_id: Option<String>,
}

fn from_row(row: &sqlx::any::AnyRow) -> ApprovalResult<ApprovalFile> {
    Ok(ApprovalFile {
        id: row.try_get("id")?,
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        instance_id: row.try_get("instance_id")?,
    })
}

/// Stores an uploaded file, unclaimed, for `me` to put on a form.
pub async fn upload<S, E>(
    state: &AppState,
    me: &Membership,
    file_name: &str,
    content_type: Option<&str>,
    declared_len: Option<u64>,
    body: S,
) -> ApprovalResult<ApprovalFile>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    sweep_unclaimed(state, Some(&me.user_id)).await?;
    let upload = tram_chat::attachments::stage_upload(
        state,
        file_name,
        content_type,
        declared_len,
        MAX_FILE_BYTES,
        body,
    )
    .await?;
    let file = ApprovalFile {
        id: new_id(),
        file_name: upload.file_name,
        content_type: upload.content_type,
        size_bytes: upload.staged.size as i64,
        instance_id: None,
    };
    let sha256 = upload.staged.sha256.clone();
    state
        .blobs
        .keep(upload.staged, &key(&file.id))
        .await
        .map_err(|e| ApprovalError::File(tram_chat::error::ChatError::Storage(e.to_string())))?;
    let stored = sqlx::query(
        "INSERT INTO approval_files (id, org_id, uploader_id, instance_id, file_name, content_type, size_bytes, sha256, created_at) \
         VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8)",
    )
    .bind(&file.id)
    .bind(&me.org_id)
    .bind(&me.user_id)
    .bind(&file.file_name)
    .bind(&file.content_type)
    .bind(file.size_bytes)
    .bind(&sha256)
    .bind(state.clock.now_ms())
    .execute(state.db.write())
    .await;
    if let Err(err) = stored {
        remove_blob(state, &file.id).await;
        return Err(err.into());
    }
    Ok(file)
}

async fn remove_blob(state: &AppState, id: &str) {
    if let Err(err) = state.blobs.delete(&key(id)).await {
        tracing::warn!(error = %err, "approval file not removed");
    }
}

/// The file ids the cleaned values name, per attachment field.
fn named(fields: &[Field], values: &Map<String, Value>) -> Vec<(String, Vec<String>)> {
    fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Attachment))
        .filter_map(|f| {
            let ids = values.get(&f.key)?.as_array()?;
            let ids = ids
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            Some((f.key.clone(), ids))
        })
        .collect()
}

/// Claims for request `instance_id` the files its values name: each must
/// be in `me`'s org and either uploaded by `me` and unclaimed, or already
/// on this request (a resubmission keeping its files). Files the request
/// held before and no longer names are removed after commit by
/// `drop_unnamed`. A file that cannot be claimed is a field error.
pub(crate) async fn claim(
    tx: &mut BatchedTx,
    me: &Membership,
    instance_id: &str,
    fields: &[Field],
    values: &Map<String, Value>,
) -> ApprovalResult<()> {
    let mut errors = Vec::new();
    for (field, ids) in named(fields, values) {
        for id in ids {
            let claimed = tx
                .query(
                    "UPDATE approval_files SET instance_id = $1 WHERE id = $2 AND org_id = $3 \
                     AND ((instance_id IS NULL AND uploader_id = $4) OR instance_id = $1)",
                    args![
                        instance_id,
                        id.as_str(),
                        me.org_id.as_str(),
                        me.user_id.as_str()
                    ],
                )
                .await?
                .rows_affected;
            if claimed == 0 {
                errors.push(FieldError {
                    field: field.clone(),
                    code: "unknown_file",
                    args: Vec::new(),
                });
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApprovalError::InvalidValues(errors))
    }
}

/// After a resubmission: the request's files its new values no longer
/// name are deleted.
pub(crate) async fn drop_unnamed(
    state: &AppState,
    instance_id: &str,
    fields: &[Field],
    values: &Map<String, Value>,
) -> ApprovalResult<()> {
    let keep: HashSet<String> = named(fields, values)
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect();
    for file in on_request(state, instance_id).await? {
        if !keep.contains(&file.id) {
            sqlx::query("DELETE FROM approval_files WHERE id = $1")
                .bind(&file.id)
                .execute(state.db.write())
                .await?;
            remove_blob(state, &file.id).await;
        }
    }
    Ok(())
}

/// The files on a request, by id (the caller has checked the viewer may
/// see the request).
pub async fn on_request(state: &AppState, instance_id: &str) -> ApprovalResult<Vec<ApprovalFile>> {
    sqlx::query(
        "SELECT id, file_name, content_type, size_bytes, instance_id FROM approval_files \
         WHERE instance_id = $1 ORDER BY created_at, id",
    )
    .bind(instance_id)
    .fetch_all(state.db.read())
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// The files on a request by id, for showing its values.
pub async fn names_on_request(
    state: &AppState,
    instance_id: &str,
) -> ApprovalResult<HashMap<String, ApprovalFile>> {
    Ok(on_request(state, instance_id)
        .await?
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect())
}

/// Of these ids, the files `me` uploaded (claimed or not), by id.
pub async fn uploaded_by(
    state: &AppState,
    me: &Membership,
    ids: &[String],
) -> ApprovalResult<HashMap<String, ApprovalFile>> {
    let mut found = HashMap::new();
    for id in ids.iter().take(20) {
        let row = sqlx::query(
            "SELECT id, file_name, content_type, size_bytes, instance_id FROM approval_files \
             WHERE id = $1 AND org_id = $2 AND uploader_id = $3",
        )
        .bind(id)
        .bind(&me.org_id)
        .bind(&me.user_id)
        .fetch_optional(state.db.read())
        .await?;
        if let Some(row) = row {
            found.insert(id.clone(), from_row(&row)?);
        }
    }
    Ok(found)
}

/// A file of a request `me` may see, opened for download; anything else
/// (another org, a request `me` may not see, a file not on it) is not found.
pub async fn open(
    state: &AppState,
    me: &Membership,
    instance_id: &str,
    file_id: &str,
) -> ApprovalResult<(ApprovalFile, tokio::fs::File)> {
    crate::instances::get(&state.db, me, instance_id).await?;
    let row = sqlx::query(
        "SELECT id, file_name, content_type, size_bytes, instance_id FROM approval_files \
         WHERE id = $1 AND instance_id = $2 AND org_id = $3",
    )
    .bind(file_id)
    .bind(instance_id)
    .bind(&me.org_id)
    .fetch_optional(state.db.read())
    .await?
    .ok_or(ApprovalError::NotFound)?;
    let file = from_row(&row)?;
    let handle = state
        .blobs
        .open(&key(&file.id))
        .await
        .map_err(|_| ApprovalError::NotFound)?;
    Ok((file, handle))
}

/// Removes unclaimed files older than a day (of one uploader, or all).
pub async fn sweep_unclaimed(state: &AppState, uploader: Option<&str>) -> ApprovalResult<usize> {
    let before = state.clock.now_ms() - UNCLAIMED_MS;
    let rows = sqlx::query(
        "SELECT id FROM approval_files WHERE instance_id IS NULL AND created_at < $1 \
         AND ($2 = '' OR uploader_id = $2)",
    )
    .bind(before)
    .bind(uploader.unwrap_or(""))
    .fetch_all(state.db.read())
    .await?;
    let mut removed = 0;
    for row in rows {
        let id: String = row.try_get("id")?;
        let gone = sqlx::query("DELETE FROM approval_files WHERE id = $1 AND instance_id IS NULL")
            .bind(&id)
            .execute(state.db.write())
            .await?
            .rows_affected();
        if gone == 1 {
            remove_blob(state, &id).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// At start-up: stale unclaimed files, and `apf_` blobs no row refers to
/// (left by a crash between keeping a file and recording it).
pub async fn sweep(state: &AppState) -> ApprovalResult<usize> {
    let mut removed = sweep_unclaimed(state, None).await?;
    let keys: Vec<String> = state
        .blobs
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(KEY_PREFIX))
        .collect();
    if keys.is_empty() {
        return Ok(removed);
    }
    let known: HashSet<String> = sqlx::query("SELECT id FROM approval_files")
        .fetch_all(state.db.read())
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String, _>("id").ok())
        .map(|id| key(&id))
        .collect();
    for k in keys.into_iter().filter(|k| !known.contains(k)) {
        if state.blobs.delete(&k).await.is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}
