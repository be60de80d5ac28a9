//! Stand-ins for the external services Tram talks to, for integration tests
//! and benchmarks: an SMTP server that keeps what it receives, and HTTP
//! servers that answer like Twilio's Messages API and Alibaba Cloud's
//! `SendSms`. Each listens on 127.0.0.1 on a port of its own and stops when
//! dropped.
//!
//! They speak the real wire formats and check requests the way the real
//! services document it (Basic auth, HMAC-SHA1 signatures, nonces, phone
//! number formats), with their own implementation of those rules: a client
//! that passes here was not graded by its own code.

mod aliyun;
mod http;
mod mail;
mod smtp;
mod twilio;

pub use aliyun::{AliyunSms, AliyunStandIn};
pub use mail::ReceivedMail;
pub use smtp::SmtpSink;
pub use twilio::{TwilioMessage, TwilioStandIn};
