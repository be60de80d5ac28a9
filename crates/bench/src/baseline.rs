//! The limit Tram's chat delivery is compared with: a bare WebSocket
//! broadcast server on the same stack (tokio, axum, tungstenite) with no
//! persistence, no authentication and no per-recipient work. A post is
//! turned into one JSON frame shaped like Tram's `message` event, put on a
//! `tokio::sync::broadcast` channel, and every socket's task forwards it.
//!
//! It runs as a child process (`tram-bench baseline-server`, hidden) so
//! that, like `tram`, it has its own runtime and does not share the bench
//! client's threads.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::extract::ws::{Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// The conversation every socket follows.
pub const CONVERSATION: &str = "0195b1b0a7c37a3b8d2f4e6a1c9b7d05";
const SENDER: &str = "0195b1b0a7c37a3b8d2f4e6a1c9b7d01";

#[derive(Clone)]
struct Room {
    frames: broadcast::Sender<Bytes>,
    last_seq: Arc<AtomicI64>,
}

/// Serves until killed; prints `listening <addr>` first.
pub async fn serve() -> anyhow::Result<()> {
    let room = Room {
        // The same depth as Tram's in-process bus.
        frames: broadcast::channel(1024).0,
        last_seq: Arc::default(),
    };
    let app = Router::new()
        .route("/api/v1/ws", get(connect))
        .route("/api/v1/conversations/{id}/messages", post(send))
        .route("/robot/send", post(robot_send))
        // The poster is Tram's browser client, which fetches its CSRF
        // cookie here first; nothing checks it.
        .route(
            "/healthz",
            get(|| async { ([(header::SET_COOKIE, "tram_csrf=baseline; Path=/")], "ok") }),
        )
        .with_state(room);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    // Like Tram: small frames go out at once (no Nagle delay).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

/// Tram's `Message`, field for field (in its order), with fixed values
/// where Tram would look things up.
#[derive(Serialize)]
struct Message<'a> {
    id: String,
    conversation_id: &'a str,
    seq: i64,
    sender_id: Option<&'a str>,
    sender_name: Option<&'a str>,
    kind: &'a str,
    body: &'a str,
    html: &'a str,
    mentions: [&'a str; 0],
    mention_all: bool,
    reply_to: Option<()>,
    attachment_id: Option<&'a str>,
    client_id: Option<&'a str>,
    created_at: i64,
    edited_at: Option<i64>,
    recalled: bool,
}

/// Tram's `message` event.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    conversation_id: &'a str,
    message: &'a Message<'a>,
}

/// The signing secret of the baseline's one robot.
pub const ROBOT_SECRET: &str = "SECbaseline0000000000000000000000000000000000000000000000000000000";

/// A robot's `/robot/send`: the signature checked by Tram's own
/// `verify_signature`, the DingTalk text message's content broadcast like a
/// chat message; nothing looked up, nothing stored.
async fn robot_send(
    State(room): State<Room>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Json<Value> {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    if tram_bots::security::verify_signature(ROBOT_SECRET, param("timestamp"), param("sign"), now)
        .is_err()
    {
        return Json(json!({ "errcode": 310000, "errmsg": "sign not match" }));
    }
    let Ok(post) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({ "errcode": 40035, "errmsg": "缺少参数 json" }));
    };
    let content = post["text"]["content"].as_str().unwrap_or_default();
    broadcast(&room, CONVERSATION, content);
    Json(json!({ "errcode": 0, "errmsg": "ok" }))
}

/// One message frame, serialised once for every recipient.
async fn send(
    State(room): State<Room>,
    Path(id): Path<String>,
    Json(new): Json<Value>,
) -> Json<Value> {
    let body = new["body"].as_str().unwrap_or_default();
    Json(broadcast(&room, &id, body))
}

/// Puts a message on every socket's channel; returns it.
fn broadcast(room: &Room, id: &str, body: &str) -> Value {
    let seq = room.last_seq.fetch_add(1, Ordering::Relaxed) + 1;
    let message = Message {
        id: format!("{seq:032x}"),
        conversation_id: id,
        seq,
        sender_id: Some(SENDER),
        sender_name: Some("Owner"),
        kind: "text",
        body,
        html: body,
        mentions: [],
        mention_all: false,
        reply_to: None,
        attachment_id: None,
        client_id: None,
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        edited_at: None,
        recalled: false,
    };
    let frame = serde_json::to_vec(&Event {
        kind: "message",
        conversation_id: id,
        message: &message,
    })
    .expect("events serialise");
    let _ = room.frames.send(Bytes::from(frame));
    serde_json::to_value(&message).expect("messages serialise")
}

async fn connect(State(room): State<Room>, ws: WebSocketUpgrade) -> Response {
    // Tram's setting: tungstenite zero-fills its whole read buffer (128 KiB
    // by default) on every read attempt, once per frame sent here.
    ws.read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| follow(socket, room))
}

async fn follow(mut socket: WebSocket, room: Room) {
    let mut frames = room.frames.subscribe();
    let ready = json!({ "type": "ready", "conversations": [[CONVERSATION, room.last_seq.load(Ordering::Relaxed)]] });
    if socket
        .send(Frame::Text(ready.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    let text = Utf8Bytes::try_from(frame).expect("frames are JSON text");
                    if socket.send(Frame::Text(text)).await.is_err() {
                        return;
                    }
                }
                // A lagging socket loses frames here; the receivers count them.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The baseline server as a child process of this program.
pub struct BaselineNode {
    child: Child,
    pub base: String,
}

impl BaselineNode {
    pub fn start() -> anyhow::Result<BaselineNode> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("baseline-server")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the baseline server")?;
        let stdout = child.stdout.take().context("baseline stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening ") else {
            bail!("the baseline server said {line:?}");
        };
        Ok(BaselineNode {
            base: format!("http://{addr}"),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BaselineNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
