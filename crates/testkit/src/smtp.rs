//! `SmtpSink`: a small SMTP server (RFC 5321) on 127.0.0.1 that accepts
//! every message and keeps it, so tests can read the mail a real SMTP
//! client (lettre) delivered. It speaks plain SMTP only: EHLO/HELO, AUTH
//! PLAIN/LOGIN (optional, or required when started with credentials),
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT. No TLS.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::mail::ReceivedMail;

/// Longest command line accepted (RFC 5321 allows 512; AUTH lines are longer).
const MAX_LINE: u64 = 16 * 1024;
/// Largest message accepted, so a runaway client cannot exhaust memory.
const MAX_MESSAGE: usize = 25 * 1024 * 1024;

pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    mails: Mutex<Vec<ReceivedMail>>,
    /// Number of messages received; `wait_for` watches it.
    received: watch::Sender<usize>,
    /// When set, MAIL is refused until the client logs in with these.
    credentials: Option<(String, String)>,
}

impl SmtpSink {
    /// A sink that accepts mail with or without AUTH (any credentials).
    pub async fn start() -> SmtpSink {
        SmtpSink::launch(None).await
    }

    /// A sink that refuses mail until the client logs in with exactly
    /// these credentials.
    pub async fn start_requiring_auth(username: &str, password: &str) -> SmtpSink {
        SmtpSink::launch(Some((username.to_string(), password.to_string()))).await
    }

    async fn launch(credentials: Option<(String, String)>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink on 127.0.0.1");
        let addr = listener.local_addr().expect("SMTP sink address");
        let shared = Arc::new(Shared {
            mails: Mutex::new(Vec::new()),
            received: watch::channel(0).0,
            credentials,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        SmtpSink { addr, shared, task }
    }

    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.mails.lock().expect("sink lock").clone()
    }

    /// The first message (already received or arriving within `timeout`)
    /// for which `matches` is true.
    pub async fn wait_for(
        &self,
        matches: impl Fn(&ReceivedMail) -> bool,
        timeout: Duration,
    ) -> Option<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribing before looking means no message can slip in between.
        let mut received = self.shared.received.subscribe();
        loop {
            if let Some(found) = self.messages().into_iter().find(|m| matches(m)) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, received.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which ends every session.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    sessions.spawn(session(stream, shared.clone()));
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// What the client has said so far in one connection.
#[derive(Default)]
struct Session {
    greeted: bool,
    user: Option<String>,
    from: Option<String>,
    recipients: Vec<String>,
}

impl Session {
    fn reset_transaction(&mut self) {
        self.from = None;
        self.recipients.clear();
    }
}

async fn session(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut state = Session::default();
    reply(&mut write, "220 127.0.0.1 ESMTP tram-testkit sink ready").await?;
    while let Some(line) = read_line(&mut reader).await? {
        let (verb, argument) = match line.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" if argument.is_empty() => {
                reply(&mut write, "501 5.5.4 A domain or address is required").await?
            }
            "EHLO" => {
                state.reset_transaction();
                state.greeted = true;
                reply(
                    &mut write,
                    &format!(
                        "250-127.0.0.1 greets {argument}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN"
                    ),
                )
                .await?
            }
            "HELO" => {
                state.reset_transaction();
                state.greeted = true;
                reply(&mut write, "250 127.0.0.1").await?
            }
            "AUTH" => authenticate(&mut reader, &mut write, &mut state, &shared, argument).await?,
            "MAIL" => {
                let answer = if !state.greeted {
                    "503 5.5.1 Send EHLO or HELO first"
                } else if shared.credentials.is_some() && state.user.is_none() {
                    "530 5.7.0 Authentication required"
                } else if state.from.is_some() {
                    "503 5.5.1 Sender already given"
                } else if let Some(address) = path_argument(argument, "FROM:") {
                    state.from = Some(address);
                    "250 2.1.0 Sender OK"
                } else {
                    "501 5.5.4 Syntax: MAIL FROM:<address>"
                };
                reply(&mut write, answer).await?
            }
            "RCPT" => {
                let answer = if state.from.is_none() {
                    "503 5.5.1 Need MAIL before RCPT"
                } else {
                    match path_argument(argument, "TO:") {
                        Some(address) if !address.is_empty() => {
                            state.recipients.push(address);
                            "250 2.1.5 Recipient OK"
                        }
                        _ => "501 5.5.4 Syntax: RCPT TO:<address>",
                    }
                };
                reply(&mut write, answer).await?
            }
            "DATA" => {
                if state.recipients.is_empty() {
                    reply(&mut write, "503 5.5.1 Need RCPT before DATA").await?;
                    continue;
                }
                reply(&mut write, "354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = read_data(&mut reader).await? else {
                    reply(&mut write, "552 5.3.4 Message too big").await?;
                    state.reset_transaction();
                    continue;
                };
                let mail = ReceivedMail {
                    from: state.from.take().unwrap_or_default(),
                    recipients: std::mem::take(&mut state.recipients),
                    data,
                    authenticated_as: state.user.clone(),
                };
                let count = {
                    let mut mails = shared.mails.lock().expect("sink lock");
                    mails.push(mail);
                    mails.len()
                };
                shared.received.send_replace(count);
                reply(&mut write, &format!("250 2.0.0 OK: queued as {count}")).await?
            }
            "RSET" => {
                state.reset_transaction();
                reply(&mut write, "250 2.0.0 OK").await?
            }
            "NOOP" => reply(&mut write, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut write, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            "STARTTLS" => reply(&mut write, "502 5.5.1 TLS is not offered here").await?,
            _ => reply(&mut write, "502 5.5.2 Command not recognized").await?,
        }
    }
    Ok(())
}

async fn authenticate(
    reader: &mut (impl AsyncBufRead + Unpin),
    write: &mut OwnedWriteHalf,
    state: &mut Session,
    shared: &Shared,
    argument: &str,
) -> io::Result<()> {
    if !state.greeted {
        return reply(write, "503 5.5.1 Send EHLO first").await;
    }
    if state.user.is_some() {
        return reply(write, "503 5.5.1 Already authenticated").await;
    }
    let (mechanism, initial) = match argument.split_once(' ') {
        Some((mechanism, initial)) => (mechanism.to_ascii_uppercase(), Some(initial.trim())),
        None => (argument.to_ascii_uppercase(), None),
    };
    let credentials = match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(initial) => initial.to_string(),
                None => match challenge(reader, write, "").await? {
                    Some(response) => response,
                    None => return Ok(()),
                },
            };
            // authzid NUL authcid NUL passwd (RFC 4616)
            decode_base64(&response).and_then(|plain| {
                let mut fields = plain.split('\0');
                let _authzid = fields.next()?;
                Some((fields.next()?.to_string(), fields.next()?.to_string()))
            })
        }
        "LOGIN" => {
            let username = match initial {
                Some(initial) => Some(initial.to_string()),
                None => challenge(reader, write, "VXNlcm5hbWU6").await?,
            };
            let Some(username) = username else {
                return Ok(());
            };
            let Some(password) = challenge(reader, write, "UGFzc3dvcmQ6").await? else {
                return Ok(());
            };
            decode_base64(&username).zip(decode_base64(&password))
        }
        _ => return reply(write, "504 5.5.4 Unrecognized authentication type").await,
    };
    let Some((username, password)) = credentials else {
        return reply(write, "501 5.5.2 Cannot decode the credentials").await;
    };
    let accepted = match &shared.credentials {
        Some((expected_user, expected_password)) => {
            username == *expected_user && password == *expected_password
        }
        None => true,
    };
    if accepted {
        state.user = Some(username);
        reply(write, "235 2.7.0 Authentication successful").await
    } else {
        reply(write, "535 5.7.8 Authentication credentials invalid").await
    }
}

/// Sends a 334 challenge and reads the answer; `None` when the client
/// cancelled (`*`) or hung up, after telling it so.
async fn challenge(
    reader: &mut (impl AsyncBufRead + Unpin),
    write: &mut OwnedWriteHalf,
    prompt: &str,
) -> io::Result<Option<String>> {
    reply(write, &format!("334 {prompt}")).await?;
    match read_line(reader).await? {
        Some(answer) if answer.trim() != "*" => Ok(Some(answer.trim().to_string())),
        Some(_) => {
            reply(write, "501 5.0.0 Authentication cancelled").await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

fn decode_base64(text: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The address in `FROM:<a@b> BODY=8BITMIME` (parameters are ignored).
fn path_argument(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_string())
}

/// One command line without its line break; `None` at end of stream.
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = reader.take(MAX_LINE).read_until(b'\n', &mut line).await?;
    if read == 0 {
        return Ok(None);
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// The message after DATA up to the lone `.` line, dot-unstuffed
/// (RFC 5321 §4.5.2). `None` when it is larger than [`MAX_MESSAGE`]; the
/// rest is still read so the session stays in step.
async fn read_data(reader: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed during DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + line.len() > MAX_MESSAGE {
            too_big = true;
            data.clear();
        }
        if !too_big {
            data.extend_from_slice(line);
        }
    }
    // The CRLF before the final dot ends the last line; it is kept, as a
    // message's last line ends with one.
    Ok((!too_big).then_some(data))
}

async fn reply(write: &mut OwnedWriteHalf, text: &str) -> io::Result<()> {
    write.write_all(text.as_bytes()).await?;
    write.write_all(b"\r\n").await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A scripted SMTP client: sends each line and returns the replies.
    struct Client {
        reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: OwnedWriteHalf,
    }

    impl Client {
        async fn connect(sink: &SmtpSink) -> Client {
            let stream = TcpStream::connect(("127.0.0.1", sink.port()))
                .await
                .unwrap();
            let (read, write) = stream.into_split();
            let mut client = Client {
                reader: BufReader::new(read),
                write,
            };
            assert!(client.reply().await.starts_with("220 "));
            client
        }

        /// One whole (possibly multi-line) reply.
        async fn reply(&mut self) -> String {
            let mut all = String::new();
            loop {
                let mut line = String::new();
                self.reader.read_line(&mut line).await.unwrap();
                all.push_str(&line);
                if line.len() < 4 || line.as_bytes()[3] == b' ' {
                    return all;
                }
            }
        }

        async fn send(&mut self, line: &str) -> String {
            self.write.write_all(line.as_bytes()).await.unwrap();
            self.write.write_all(b"\r\n").await.unwrap();
            self.reply().await
        }
    }

    #[tokio::test]
    async fn keeps_a_message_with_dot_unstuffing_and_envelope() {
        let sink = SmtpSink::start().await;
        let mut c = Client::connect(&sink).await;
        assert!(c
            .send("EHLO client.test")
            .await
            .contains("250 AUTH PLAIN LOGIN"));
        assert!(c
            .send("MAIL FROM:<a@example.com> BODY=8BITMIME")
            .await
            .starts_with("250"));
        assert!(c.send("RCPT TO:<b@example.com>").await.starts_with("250"));
        assert!(c.send("RCPT TO:<c@example.com>").await.starts_with("250"));
        assert!(c.send("DATA").await.starts_with("354"));
        let reply = c
            .send("Subject: hi\r\n\r\n..leading dot\r\nline\r\n.")
            .await;
        assert!(reply.starts_with("250"), "{reply}");
        assert!(c.send("QUIT").await.starts_with("221"));

        let mail = sink
            .wait_for(|m| m.subject() == "hi", Duration::from_secs(5))
            .await
            .expect("message kept");
        assert_eq!(mail.from, "a@example.com");
        assert_eq!(mail.recipients, ["b@example.com", "c@example.com"]);
        assert_eq!(mail.text_body(), ".leading dot\r\nline\r\n");
        assert_eq!(mail.authenticated_as, None);
    }

    #[tokio::test]
    async fn enforces_order_and_forgets_the_transaction_on_rset() {
        let sink = SmtpSink::start().await;
        let mut c = Client::connect(&sink).await;
        assert!(c.send("MAIL FROM:<a@example.com>").await.starts_with("503"));
        assert!(c.send("HELO client.test").await.starts_with("250"));
        assert!(c.send("RCPT TO:<b@example.com>").await.starts_with("503"));
        assert!(c.send("MAIL FROM:<a@example.com>").await.starts_with("250"));
        assert!(c.send("RSET").await.starts_with("250"));
        assert!(c.send("DATA").await.starts_with("503"));
        assert!(c.send("NOOP").await.starts_with("250"));
        assert!(c.send("VRFY x").await.starts_with("502"));
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn requires_the_configured_credentials() {
        let sink = SmtpSink::start_requiring_auth("mailer", "s3cret").await;
        let mut c = Client::connect(&sink).await;
        c.send("EHLO client.test").await;
        assert!(c.send("MAIL FROM:<a@example.com>").await.starts_with("530"));
        let wrong = base64::engine::general_purpose::STANDARD.encode("\0mailer\0nope");
        assert!(c
            .send(&format!("AUTH PLAIN {wrong}"))
            .await
            .starts_with("535"));
        assert!(c.send("AUTH LOGIN").await.starts_with("334 VXNlcm5hbWU6"));
        assert!(c.send("bWFpbGVy").await.starts_with("334 UGFzc3dvcmQ6"));
        assert!(c.send("czNjcmV0").await.starts_with("235"));
        assert!(c.send("MAIL FROM:<a@example.com>").await.starts_with("250"));
        c.send("RCPT TO:<b@example.com>").await;
        c.send("DATA").await;
        assert!(c
            .send("Subject: x\r\n\r\nbody\r\n.")
            .await
            .starts_with("250"));
        let mail = &sink.messages()[0];
        assert_eq!(mail.authenticated_as.as_deref(), Some("mailer"));
    }

    #[tokio::test]
    async fn wait_for_gives_up_after_the_timeout() {
        let sink = SmtpSink::start().await;
        let found = sink.wait_for(|_| true, Duration::from_millis(50)).await;
        assert!(found.is_none());
    }
}
