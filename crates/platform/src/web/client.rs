//! The client behind a request: its address (through trusted proxies) and
//! its browser and operating system as read from the User-Agent.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::{ApiError, AppState};

#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

impl ClientInfo {
    /// ("Chrome 120", "Windows 10") style names for people to recognise.
    pub fn browser_and_os(&self) -> (String, String) {
        browser_and_os(&self.user_agent)
    }
}

pub fn browser_and_os(user_agent: &str) -> (String, String) {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(result) => {
            let browser = if result.name == "UNKNOWN" {
                "Unknown browser".to_string()
            } else if result.version.is_empty() || result.version == "UNKNOWN" {
                result.name.to_string()
            } else {
                let major = result.version.split('.').next().unwrap_or(result.version);
                format!("{} {}", result.name, major)
            };
            let os = if result.os == "UNKNOWN" {
                "Unknown OS".to_string()
            } else if result.os_version.is_empty() || result.os_version == "UNKNOWN" {
                result.os.to_string()
            } else {
                format!("{} {}", result.os, result.os_version)
            };
            (browser, os)
        }
        None => ("Unknown browser".into(), "Unknown OS".into()),
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(400)
            .collect();
        Ok(ClientInfo { ip, user_agent })
    }
}

fn client_ip(peer: Option<IpAddr>, headers: &axum::http::HeaderMap, trusted: &[String]) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let peer_trusted = trusted
        .iter()
        .any(|t| t.parse::<IpAddr>().ok() == Some(peer));
    if peer_trusted {
        // The right-most address that is not itself a trusted proxy.
        if let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            for hop in forwarded.rsplit(',') {
                if let Ok(ip) = hop.trim().parse::<IpAddr>() {
                    if !trusted.iter().any(|t| t.parse::<IpAddr>().ok() == Some(ip)) {
                        return ip.to_string();
                    }
                }
            }
        }
    }
    peer.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.2".parse().unwrap());
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(Some(proxy), &headers, &["10.0.0.2".into()]),
            "203.0.113.9"
        );
        assert_eq!(client_ip(Some(proxy), &headers, &[]), "10.0.0.2");
    }

    #[test]
    fn names_common_browsers() {
        let (browser, os) = browser_and_os(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        );
        assert_eq!(browser, "Chrome 120");
        assert!(os.starts_with("Windows"), "{os}");
        let (browser, os) = browser_and_os(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        );
        assert!(browser.starts_with("Safari"), "{browser}");
        assert!(os.starts_with("iPhone"), "{os}");
        assert_eq!(browser_and_os("").0, "Unknown browser");
    }
}
