//! Images and files in chat. An upload arrives as the raw request body; it
//! is written to the blob layer's staging area while its size is checked,
//! kept under a new attachment id, and stored with its message in one
//! transaction. If anything fails, the blob is removed again: a failed
//! upload leaves neither a message nor a file.

use bytes::Bytes;
use futures::Stream;
use sqlx::Row;
use tram_platform::blobs::{BlobError, StagedBlob};
use tram_platform::db::new_id;
use tram_platform::AppState;

use crate::conversations::Participant;
use crate::error::{ChatError, ChatResult};
use crate::messages::{self, Message, MessageKind, NewAttachment, NewMessage};

/// Longest file name kept, in characters.
const MAX_FILE_NAME_CHARS: usize = 200;

/// The name as it will be stored and shown: no path, no control
/// characters, not empty, not endless. (It is still shown as text only.)
pub fn clean_file_name(name: &str) -> ChatResult<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(ChatError::InvalidFileName);
    }
    Ok(cleaned)
}

/// Image types shown inline, recognised by their first bytes (never by
/// what the client claims; SVG is never inline).
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A client's Content-Type, kept only if it looks like one.
fn declared_type(content_type: Option<&str>) -> String {
    let value = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let valid = value.split_once('/').is_some_and(|(a, b)| {
        let token = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        token(a) && token(b)
    });
    if valid && value.len() <= 100 {
        value
    } else {
        "application/octet-stream".to_string()
    }
}

pub struct Upload<'a> {
    pub file_name: &'a str,
    pub content_type: Option<&'a str>,
    /// The Content-Length the client announced, if any.
    pub declared_len: Option<u64>,
    pub caption: String,
    pub reply_to: Option<String>,
    pub client_id: Option<String>,
}

/// An upload checked and written to the blob layer's staging area, not
/// yet kept: its cleaned name, its type (images recognised by content),
/// size and hash. Dropping it removes the staged file.
pub struct StagedUpload {
    pub staged: StagedBlob,
    pub file_name: String,
    pub content_type: String,
    /// A PNG, JPEG, GIF or WebP image (shown inline).
    pub image: bool,
}

/// Checks an upload's name and announced size, and stages its body while
/// counting it against `max` bytes. Chat and the other domains that take
/// files (approval forms) share this.
pub async fn stage_upload<S, E>(
    state: &AppState,
    file_name: &str,
    content_type: Option<&str>,
    declared_len: Option<u64>,
    max: u64,
    body: S,
) -> ChatResult<StagedUpload>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file_name = clean_file_name(file_name)?;
    if declared_len.is_some_and(|len| len > max) {
        return Err(ChatError::TooLarge { max });
    }
    let staged = state
        .blobs
        .stage(body, max)
        .await
        .map_err(|err| match err {
            BlobError::TooLarge { max } => ChatError::TooLarge { max },
            BlobError::Empty => ChatError::EmptyFile,
            BlobError::Interrupted(why) => ChatError::UploadInterrupted(why),
            BlobError::Io(io) => ChatError::Storage(io.to_string()),
        })?;
    let (image, content_type) = match sniff_image(&staged.head) {
        Some(image) => (true, image.to_string()),
        None => (false, declared_type(content_type)),
    };
    Ok(StagedUpload {
        staged,
        file_name,
        content_type,
        image,
    })
}

/// Stores an uploaded file and its message.
pub async fn upload<S, E>(
    state: &AppState,
    sender: &Participant,
    upload: Upload<'_>,
    body: S,
) -> ChatResult<Message>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let StagedUpload {
        staged,
        file_name,
        content_type,
        image,
    } = stage_upload(
        state,
        upload.file_name,
        upload.content_type,
        upload.declared_len,
        state.config.chat.max_upload_bytes,
        body,
    )
    .await?;
    let kind = if image {
        MessageKind::Image
    } else {
        MessageKind::File
    };
    let attachment = NewAttachment {
        id: new_id(),
        file_name,
        content_type,
        size_bytes: staged.size as i64,
        sha256: staged.sha256.clone(),
    };
    state
        .blobs
        .keep(staged, &attachment.id)
        .await
        .map_err(|e| ChatError::Storage(e.to_string()))?;
    let new = NewMessage {
        kind,
        body: upload.caption,
        mentions: Vec::new(),
        mention_all: false,
        robot_mentions: Vec::new(),
        reply_to: upload.reply_to,
        client_id: upload.client_id,
    };
    let stored = messages::send_with(state, sender, new, Some(&attachment)).await;
    // Not stored, or the same upload was stored before (a retry with the
    // same client id): this copy of the file is not needed.
    let keep =
        matches!(&stored, Ok(m) if m.attachment.as_ref().is_some_and(|a| a.id == attachment.id));
    if !keep {
        if let Err(err) = state.blobs.delete(&attachment.id).await {
            tracing::warn!(error = %err, "unused upload not removed");
        }
    }
    stored
}

/// What a download needs: the file's name and type, if `user_id` may see
/// it (a member of the conversation whose message holds it).
pub struct Download {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub inline: bool,
}

pub async fn find_for(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    attachment_id: &str,
) -> ChatResult<Download> {
    let row = sqlx::query(
        "SELECT a.file_name, a.content_type, a.size_bytes, m.kind FROM attachments a \
         JOIN messages m ON m.attachment_id = a.id AND m.recalled_at IS NULL \
         JOIN conversations c ON c.id = m.conversation_id AND c.org_id = $2 \
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $3 \
         WHERE a.id = $1",
    )
    .bind(attachment_id)
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(state.db.read())
    .await?
    .ok_or(ChatError::NotFound)?;
    let kind: String = row.try_get("kind")?;
    Ok(Download {
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        inline: kind == "image",
    })
}

/// At start-up, before serving: removes half-written uploads and blobs no
/// attachment refers to (left by a crash between keeping a file and
/// committing its message).
pub async fn sweep(state: &AppState) -> ChatResult<usize> {
    state.blobs.clear_staging();
    let keys = state.blobs.keys();
    if keys.is_empty() {
        return Ok(0);
    }
    let known: std::collections::HashSet<String> = sqlx::query("SELECT id FROM attachments")
        .fetch_all(state.db.read())
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String, _>("id").ok())
        .collect();
    let mut removed = 0;
    // Keys with a `<domain>_` prefix (approval files: `apf_`) belong to
    // other domains, which sweep their own; chat's keys are bare ids.
    for key in keys
        .into_iter()
        .filter(|k| !k.contains('_') && !known.contains(k))
    {
        if state.blobs.delete(&key).await.is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(
            clean_file_name("C:\\Users\\a\\報告.pdf").unwrap(),
            "報告.pdf"
        );
        assert_eq!(clean_file_name("a\u{0}b\nc.txt").unwrap(), "abc.txt");
        assert_eq!(
            clean_file_name("<img src=x onerror=alert(1)>.png").unwrap(),
            "<img src=x onerror=alert(1)>.png"
        );
        assert!(clean_file_name("  ").is_err());
        assert!(clean_file_name("dir/").is_err());
        assert_eq!(
            clean_file_name(&"長".repeat(300)).unwrap().chars().count(),
            200
        );
    }

    #[test]
    fn images_are_recognised_by_content_and_types_are_checked() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(b"<svg xmlns=...>"), None);
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(declared_type(Some("application/pdf")), "application/pdf");
        assert_eq!(declared_type(Some("text/html; charset=utf-8")), "text/html");
        assert_eq!(declared_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(declared_type(None), "application/octet-stream");
    }
}
