//! A robot's security settings as DingTalk defines them, as pure rules:
//! the signature (HMAC-SHA256 keyed by the secret over
//! `timestamp + "\n" + secret`, Base64, sent URL-encoded as `sign`, with a
//! millisecond `timestamp` at most one hour from the server's clock),
//! custom keywords (the message must contain one of them), and the IP
//! allow-list (addresses and CIDR ranges).

use std::net::IpAddr;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// How far a signed request's timestamp may be from the server's clock.
pub const TIMESTAMP_WINDOW_MS: i64 = 3_600_000;
/// Most keywords a robot may have (DingTalk allows ten).
pub const MAX_KEYWORDS: usize = 10;
/// Longest keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 20;
/// Most entries in an IP allow-list.
pub const MAX_IP_RULES: usize = 20;

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No signature, or not the one the secret gives (also: no timestamp).
    Mismatch,
    /// The timestamp is not milliseconds within an hour of now.
    Timestamp,
}

/// A new signing secret: `SEC` and 64 hex digits, as DingTalk issues them
/// (client libraries look for the prefix).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("SEC{}", hex::encode(bytes))
}

/// A new access token: 64 hex digits, the shape of DingTalk's tokens.
pub fn new_access_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn mac(secret: &str, timestamp: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    mac
}

/// The signature a client sends for `timestamp` (Base64, before the URL
/// encoding of the query string).
pub fn signature(secret: &str, timestamp: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(secret, timestamp).finalize().into_bytes())
}

/// Checks `timestamp` and `sign` (both already URL-decoded) against the
/// secret at `now_ms`. The comparison runs in constant time.
pub fn verify_signature(
    secret: &str,
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: i64,
) -> Result<(), SignatureError> {
    // DingTalk answers "sign not match" when the timestamp is missing.
    let timestamp = timestamp
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(SignatureError::Mismatch)?;
    let at: i64 = timestamp.parse().map_err(|_| SignatureError::Timestamp)?;
    if (now_ms - at).abs() > TIMESTAMP_WINDOW_MS {
        return Err(SignatureError::Timestamp);
    }
    let sign = sign
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Mismatch)?;
    // A client that forgot to URL-encode the Base64 sends its `+` as a space.
    let sign = sign.replace(' ', "+");
    let provided = base64::engine::general_purpose::STANDARD
        .decode(sign.as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac(secret, timestamp)
        .verify_slice(&provided)
        .map_err(|_| SignatureError::Mismatch)
}

/// Keywords as an admin typed them: trimmed, without blanks and repeats.
pub fn clean_keywords(keywords: &[String]) -> Result<Vec<String>, ()> {
    let mut out: Vec<String> = Vec::new();
    for keyword in keywords {
        let keyword = keyword.trim();
        if keyword.is_empty() {
            continue;
        }
        if keyword.chars().count() > MAX_KEYWORD_CHARS {
            return Err(());
        }
        if !out.iter().any(|k| k == keyword) {
            out.push(keyword.to_string());
        }
    }
    if out.len() > MAX_KEYWORDS {
        return Err(());
    }
    Ok(out)
}

/// Whether any keyword occurs in any of the message's texts (no keywords:
/// nothing to check).
pub fn has_keyword(keywords: &[String], texts: &[&str]) -> bool {
    keywords.is_empty()
        || keywords
            .iter()
            .any(|k| texts.iter().any(|t| t.contains(k.as_str())))
}

/// One entry of an IP allow-list: an address, or a network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRule {
    network: IpAddr,
    prefix: u8,
}

impl IpRule {
    pub fn parse(text: &str) -> Option<IpRule> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr.trim(), Some(prefix.trim().parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(IpRule {
            network: mask(network, prefix),
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

impl std::fmt::Display for IpRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// An allow-list as an admin typed it, each entry normalised (`10.1.2.3/8`
/// becomes `10.0.0.0/8`); the bad entry if one does not parse.
pub fn clean_ip_rules(entries: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let rule =
            IpRule::parse(entry).ok_or_else(|| entry.chars().take(60).collect::<String>())?;
        let text = rule.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    if out.len() > MAX_IP_RULES {
        return Err(format!("{} > {MAX_IP_RULES}", out.len()));
    }
    Ok(out)
}

/// Whether `ip` may call a robot with this allow-list (empty: anyone).
pub fn ip_allowed(rules: &[String], ip: &str) -> bool {
    if rules.is_empty() {
        return true;
    }
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    rules
        .iter()
        .filter_map(|r| IpRule::parse(r))
        .any(|r| r.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_dingtalks_published_algorithm() {
        // The Python recipe in DingTalk's documentation and in every client:
        // base64(hmac_sha256(secret, f"{ts}\n{secret}")).
        let secret = "SEC8977ad824079c46935488be99fb3bc87f92a61886c21ad03bdc312cf3ed1c0a0";
        let ts = "1700000000000";
        let expected = {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{ts}\n{secret}").as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        assert_eq!(signature(secret, ts), expected);
        let now = 1_700_000_000_000;
        assert_eq!(
            verify_signature(secret, Some(ts), Some(&expected), now),
            Ok(())
        );
        // A client that did not URL-encode: `+` arrives as a space.
        assert_eq!(
            verify_signature(secret, Some(ts), Some(&expected.replace('+', " ")), now),
            Ok(())
        );
        // Another secret, another timestamp, garbage, nothing.
        assert_eq!(
            verify_signature("SECother", Some(ts), Some(&expected), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(secret, Some("1700000000001"), Some(&expected), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(secret, Some(ts), Some("not base64!"), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(secret, Some(ts), None, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(secret, None, Some(&expected), now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_must_be_within_an_hour_either_way() {
        let secret = "SECabc";
        let now = 1_700_000_000_000i64;
        for (ts, ok) in [
            (now - 3_600_000, true),
            (now + 3_600_000, true),
            (now - 3_600_001, false),
            (now + 3_600_001, false),
        ] {
            let ts = ts.to_string();
            let sign = signature(secret, &ts);
            let result = verify_signature(secret, Some(&ts), Some(&sign), now);
            assert_eq!(result.is_ok(), ok, "{ts}");
            if !ok {
                assert_eq!(result, Err(SignatureError::Timestamp));
            }
        }
        // Seconds instead of milliseconds are an hour off and more.
        let seconds = (now / 1000).to_string();
        assert_eq!(
            verify_signature(
                secret,
                Some(&seconds),
                Some(&signature(secret, &seconds)),
                now
            ),
            Err(SignatureError::Timestamp)
        );
        assert_eq!(
            verify_signature(secret, Some("soon"), Some("x"), now),
            Err(SignatureError::Timestamp)
        );
    }

    #[test]
    fn secrets_and_tokens_have_dingtalks_shape() {
        let secret = new_secret();
        assert!(secret.starts_with("SEC") && secret.len() == 67, "{secret}");
        let token = new_access_token();
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_access_token(), token);
    }

    #[test]
    fn keywords() {
        let keywords =
            clean_keywords(&[" 報表 ".into(), "".into(), "報表".into(), "ERP".into()]).unwrap();
        assert_eq!(keywords, vec!["報表".to_string(), "ERP".to_string()]);
        assert!(clean_keywords(&(0..11).map(|i| format!("k{i}")).collect::<Vec<_>>()).is_err());
        assert!(clean_keywords(&["x".repeat(21)]).is_err());
        assert!(has_keyword(&keywords, &["標題", "昨日現金流報表"]));
        assert!(!has_keyword(&keywords, &["erp（小寫）", "現金流"]));
        assert!(has_keyword(&[], &["anything"]));
    }

    #[test]
    fn ip_allow_lists() {
        let rules = clean_ip_rules(&[
            "127.0.0.0/8".into(),
            " 203.0.113.9 ".into(),
            "10.1.2.3/8".into(),
            "2001:db8::/32".into(),
        ])
        .unwrap();
        assert_eq!(
            rules,
            vec!["127.0.0.0/8", "203.0.113.9", "10.0.0.0/8", "2001:db8::/32"]
        );
        assert!(ip_allowed(&rules, "127.0.0.1"));
        assert!(
            ip_allowed(&rules, "::ffff:127.0.0.1"),
            "IPv4 behind an IPv6 socket"
        );
        assert!(ip_allowed(&rules, "10.200.0.1"));
        assert!(ip_allowed(&rules, "2001:db8:1::5"));
        assert!(!ip_allowed(&rules, "203.0.113.10"));
        assert!(!ip_allowed(&rules, "192.168.1.1"));
        assert!(!ip_allowed(&rules, "unknown"));
        assert!(ip_allowed(&[], "192.168.1.1"));
        assert_eq!(
            clean_ip_rules(&["300.1.1.1".into()]),
            Err("300.1.1.1".into())
        );
        assert_eq!(
            clean_ip_rules(&["1.2.3.4/33".into()]),
            Err("1.2.3.4/33".into())
        );
        assert!(IpRule::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
