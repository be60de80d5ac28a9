//! Uploading images and files to a conversation, and downloading them.
//! Uploads bypass the server's general request-size limit: they have their
//! own (`chat.max_upload_bytes`), checked while the body streams in.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::{ApiResult, AppState};
use utoipa::IntoParams;

use crate::attachments::{self, Upload};
use crate::conversations;
use crate::live;
use crate::messages::Message;

/// Upload routes: mounted outside the general body-size limit.
pub fn upload_routes() -> Router<AppState> {
    Router::new().route("/api/v1/conversations/{id}/files", post(upload))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/attachments/{id}", get(download))
}

#[derive(Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The file's name (shown to others as text).
    pub name: String,
    /// Text sent with the file.
    pub caption: Option<String>,
    /// The id of the message this one replies to.
    pub reply_to: Option<String>,
    /// Idempotency key: the same key twice stores one message.
    pub client_id: Option<String>,
}

/// Send an image or file: the request body is the file itself, its
/// Content-Type the file's type. PNG, JPEG, GIF and WebP images (recognised
/// by content) become image messages; anything else a file message.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/files", tag = "chat",
    params(("id" = String, Path), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody, description = "larger than chat.max_upload_bytes")))]
pub async fn upload(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Message>> {
    let me =
        conversations::participant(&state.db, &member.org.id, &id, &member.auth.user_id).await?;
    let header_str = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let upload = Upload {
        file_name: &q.name,
        content_type: header_str(header::CONTENT_TYPE),
        declared_len: header_str(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        caption: q.caption.unwrap_or_default(),
        reply_to: q.reply_to,
        client_id: q.client_id,
    };
    let message = attachments::upload(&state, &me, upload, body.into_data_stream()).await?;
    live::announce_message(&state, &message).await;
    Ok(Json(message))
}

/// `filename*` in RFC 5987 form, plus a plain ASCII fallback.
fn content_disposition(inline: bool, file_name: &str) -> HeaderValue {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// Download an image or file (members of its conversation only).
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let found = attachments::find_for(&state, &member.org.id, &member.auth.user_id, &id).await?;
    let file = state
        .blobs
        .open(&id)
        .await
        .map_err(|_| crate::error::ChatError::NotFound)?;
    Ok(file_response(
        file,
        found.inline.then_some(found.content_type.as_str()),
        found.size_bytes,
        &found.file_name,
    ))
}

/// A stored file as a download: an image (`inline_type`, recognised by
/// content) is shown by the browser, anything else is an attachment it may
/// not interpret (no HTML or SVG from uploads runs). Shared with the other
/// domains that keep files in the blob layer.
pub fn file_response(
    file: tokio::fs::File,
    inline_type: Option<&str>,
    size_bytes: i64,
    file_name: &str,
) -> Response {
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
            }
            Err(err) => Some((Err(err), file)),
        }
    })
    .boxed();
    let content_type = inline_type.unwrap_or("application/octet-stream");
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(size_bytes.max(0) as u64),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(inline_type.is_some(), file_name),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn file_names_are_encoded_in_the_disposition_header() {
        let value = content_disposition(false, "報告 \"<x>\".pdf");
        let text = value.to_str().unwrap();
        assert_eq!(
            text,
            "attachment; filename=\"__ __x__.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A%20%22%3Cx%3E%22.pdf"
        );
        assert!(content_disposition(true, "a.png")
            .to_str()
            .unwrap()
            .starts_with("inline;"));
    }
}
