//! `GET /api/v1/ws`: the live stream of one logged-in member (protocol in
//! docs/websocket.md). The socket closes when its session ends (logout,
//! remote logout, device removed), checked every few seconds.

use std::time::Duration;

use axum::extract::ws::{Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use tram_org::web::OrgMember;
use tram_platform::AppState;

use crate::live::{ClientFrame, Event, Follower, Outgoing};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/ws", get(connect))
}

/// Browsers send cookies with a WebSocket handshake from any page, so the
/// page must be ours: its Origin must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Not a browser (or a very old one): no ambient cookie to abuse.
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split("://").nth(1).unwrap_or("");
    !host.is_empty() && origin_host == host
}

async fn connect(
    State(state): State<AppState>,
    member: OrgMember,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused").into_response();
    }
    // Clients send little (pings, a resume), but tungstenite's default
    // 128 KiB read buffer is zero-filled on the first read, so every idle
    // socket would hold it.
    ws.read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| run(socket, state, member))
}

const READ_BUFFER: usize = 4 * 1024;

const SESSION_CHECK: Duration = Duration::from_secs(5);

async fn session_alive(state: &AppState, session_id: &str) -> bool {
    sqlx::query("SELECT 1 AS x FROM sessions WHERE id = $1 AND expires_at > $2")
        .bind(session_id)
        .bind(state.clock.now_ms())
        .fetch_optional(state.db.read())
        .await
        .map(|row| row.is_some())
        .unwrap_or(true)
}

async fn run(socket: WebSocket, state: AppState, member: OrgMember) {
    let (mut sink, mut incoming) = socket.split();
    let mut follower = Follower::start(
        state.clone(),
        member.org.id.clone(),
        member.auth.user_id.clone(),
    )
    .await;
    let conversations = follower.sync_conversations().await;
    if send(&mut sink, vec![Event::Ready { conversations }.into()])
        .await
        .is_err()
    {
        return;
    }
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.tick().await;
    // Made once: a new shutdown waiter per frame would take the shared
    // channel's lock twice per frame on every socket.
    let shutdown = state.shutdown.wait();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            // The client's frames first: a `resume` that has arrived must
            // move the cursors before a live message is sent past them.
            biased;
            frame = incoming.next() => {
                let text = match frame {
                    Some(Ok(Frame::Text(text))) => text,
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let out = match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(ClientFrame::Resume { cursors }) => follower.resume(cursors).await,
                    Ok(ClientFrame::Ping) => vec![Event::Pong.into()],
                    Err(_) => vec![Event::Error { message: "unknown frame".into() }.into()],
                };
                if send(&mut sink, out).await.is_err() {
                    return;
                }
            }
            out = follower.next() => {
                let Some(out) = out else { break };
                if send(&mut sink, out).await.is_err() {
                    return;
                }
            }
            _ = &mut shutdown => {
                let _ = sink.send(Frame::Close(None)).await;
                break;
            }
            _ = check.tick() => {
                if !session_alive(&state, &member.auth.session_id).await {
                    let _ = sink.send(Frame::Close(None)).await;
                    break;
                }
            }
        }
    }
}

/// Writes the frames and flushes once (a message and its notification
/// leave in one write).
async fn send(
    sink: &mut futures::stream::SplitSink<WebSocket, Frame>,
    out: Vec<Outgoing>,
) -> Result<(), axum::Error> {
    for item in out {
        let text = match item {
            Outgoing::Event(event) => {
                Utf8Bytes::from(serde_json::to_string(&event).expect("events serialise"))
            }
            // Announcements are JSON the follower has just parsed.
            Outgoing::Frame(frame) => match Utf8Bytes::try_from(frame) {
                Ok(text) => text,
                Err(_) => continue,
            },
        };
        sink.feed(Frame::Text(text)).await?;
    }
    sink.flush().await
}
