//! A browser-like HTTP client for Tram's API (its own cookie jar, the CSRF
//! header on every state-changing request) and a client for the live
//! WebSocket. Shared by the integration tests and the benchmark program;
//! failures panic with the request that failed, as a test wants.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    pub base: String,
}

pub const DESKTOP_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

impl Client {
    /// The same browser (cookies) talking to another node.
    pub fn on(&self, base: &str) -> Client {
        Client {
            http: self.http.clone(),
            jar: self.jar.clone(),
            base: base.to_string(),
        }
    }

    pub fn new(base: &str) -> Client {
        Client::with_agent(base, DESKTOP_UA)
    }

    pub fn with_agent(base: &str, user_agent: &str) -> Client {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .build()
            .unwrap();
        Client {
            http,
            jar,
            base: base.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }

    /// The CSRF token (fetching the cookie first if this browser has none).
    pub async fn csrf(&self) -> String {
        if self.cookie("tram_csrf").is_none() {
            self.http.get(self.url("/healthz")).send().await.unwrap();
        }
        self.cookie("tram_csrf").expect("csrf cookie")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let res = self.get(path).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Response {
        let token = self.csrf().await;
        self.http
            .request(method, self.url(path))
            .header("x-csrf-token", token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Sends and returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let res = self.send(method, path, body).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, body).await
    }

    /// Logs in with a password; returns status and body.
    pub async fn login(&self, identifier: &str, password: &str) -> (StatusCode, Value) {
        self.post_json(
            "/api/v1/login",
            json!({ "identifier": identifier, "password": password }),
        )
        .await
    }
}

/// A live WebSocket of a logged-in client.
pub struct Socket {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Client {
    /// Opens `/api/v1/ws` with this browser's cookies and origin.
    pub async fn socket(&self) -> Socket {
        self.try_socket(&self.base).await.expect("websocket opens")
    }

    pub async fn try_socket(
        &self,
        origin: &str,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::connect_async(self.socket_request(origin)?).await?;
        Ok(Socket { stream })
    }

    /// The handshake request for `/api/v1/ws`: this browser's cookies and
    /// the given page origin. For clients that drive the socket themselves
    /// (the benchmark's receivers).
    pub fn socket_request(
        &self,
        origin: &str,
    ) -> Result<
        tokio_tungstenite::tungstenite::handshake::client::Request,
        tokio_tungstenite::tungstenite::Error,
    > {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/api/v1/ws", self.base.replace("http://", "ws://"));
        let mut request = url.into_client_request()?;
        let base = reqwest::Url::parse(&self.base).unwrap();
        if let Some(cookies) = self.jar.cookies(&base) {
            request.headers_mut().insert("cookie", cookies);
        }
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        Ok(request)
    }
}

impl Socket {
    pub async fn send(&mut self, frame: Value) {
        use futures::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(
                frame.to_string().into(),
            ))
            .await
            .unwrap();
    }

    /// The next event, or `None` if none comes within `secs` or the socket closed.
    pub async fn next_within(&mut self, secs: f64) -> Option<Value> {
        use futures::StreamExt;
        let deadline = std::time::Duration::from_secs_f64(secs);
        loop {
            match tokio::time::timeout(deadline, self.stream.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                    return Some(serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))))
                | Ok(None)
                | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The first event of `kind` (skipping others), within `secs`.
    pub async fn expect(&mut self, kind: &str, secs: f64) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
        loop {
            let left = deadline
                .saturating_duration_since(std::time::Instant::now())
                .as_secs_f64();
            let event = self
                .next_within(left.max(0.01))
                .await
                .unwrap_or_else(|| panic!("no {kind} event within {secs}s"));
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Every event arriving within `secs`.
    pub async fn drain(&mut self, secs: f64) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(event) = self.next_within(secs).await {
            out.push(event);
        }
        out
    }
}
