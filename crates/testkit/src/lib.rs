//! Stand-ins for the external services Tram talks to, for integration tests
//! and benchmarks: an SMTP server that keeps what it receives, and HTTP
//! servers that answer like Twilio's Messages API and Alibaba Cloud's
//! `SendSms`, a developer's server behind a DingTalk outgoing robot, and an
//! OpenAI-compatible chat completions endpoint. Each listens on 127.0.0.1
//! on a port of its own and stops when dropped.
//! [`browser`] is a client for Tram itself, as a browser would
//! talk to it.
//!
//! They speak the real wire formats and check requests the way the real
//! services document it (Basic auth, HMAC-SHA1 signatures, nonces, phone
//! number formats), with their own implementation of those rules: a client
//! that passes here was not graded by its own code.

mod aliyun;
pub mod assistant_eval;
pub mod browser;
mod http;
mod llm;
mod mail;
mod robot_server;
mod smtp;
mod twilio;

pub use aliyun::{AliyunSms, AliyunStandIn};
pub use llm::{LlmRequest, LlmStandIn};
pub use mail::ReceivedMail;
pub use robot_server::{outgoing_sign, RobotReply, RobotRequest, RobotServer};
pub use smtp::SmtpSink;
pub use twilio::{TwilioMessage, TwilioStandIn};

/// The first run of exactly six digits in `text` (a verification code).
pub fn find_code(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i - start == 6 {
            return Some(chars[start..i].iter().collect());
        }
        i = i.max(start + 1);
    }
    None
}
