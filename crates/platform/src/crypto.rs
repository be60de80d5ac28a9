//! Secrets: random tokens, their stored hashes, keyed hashes for short codes,
//! sealed (encrypted) values such as TOTP seeds, and constant-time compare.
//!
//! Tokens handed to clients are never stored; only their SHA-256 is. Short
//! codes (6 digits) would fall to brute force as a plain hash, so they are
//! stored as HMAC-SHA256 under the server's secret key.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A random token of `bytes` bytes, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A uniformly random string of `len` decimal digits.
pub fn random_digits(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// SHA-256 of a high-entropy token, hex encoded: what the database keeps.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets without leaking where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The server's master key: keyed hashes and sealing.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("cannot read or write the secret key file {0}: {1}")]
    Io(String, std::io::Error),
    #[error("the secret key must be 64 hex characters")]
    Malformed,
}

impl SecretKey {
    pub fn from_hex(text: &str) -> Result<SecretKey, SecretKeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SecretKeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretKeyError::Malformed)?;
        Ok(SecretKey(key))
    }

    /// Reads `path`, or creates it with a new random key (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<SecretKey, SecretKeyError> {
        let io = |e| SecretKeyError::Io(path.display().to_string(), e);
        match std::fs::read_to_string(path) {
            Ok(text) => SecretKey::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(path, &hex::encode(key)).map_err(io)?;
                Ok(SecretKey(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// HMAC-SHA256 of `value` under this key, domain-separated by `purpose`.
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Encrypts `plain`; the result is base64 text safe to store.
    pub fn seal(&self, plain: &[u8]) -> String {
        use base64::Engine;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(XNonce::from_slice(&nonce), plain)
                .expect("encryption of an in-memory buffer"),
        );
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Decrypts what [`SecretKey::seal`] produced; `None` if it was tampered
    /// with or sealed under another key.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(XNonce::from_slice(nonce), body)
            .ok()
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let key = SecretKey([7; 32]);
        let other = SecretKey([8; 32]);
        let sealed = key.seal(b"JBSWY3DPEHPK3PXP");
        assert_eq!(key.open(&sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(other.open(&sealed).is_none());
        assert!(key.open("not base64!").is_none());
    }

    #[test]
    fn keyed_hashes_depend_on_purpose_and_key() {
        let key = SecretKey([1; 32]);
        assert_ne!(key.keyed_hash("a", "123456"), key.keyed_hash("b", "123456"));
        assert_ne!(
            key.keyed_hash("a", "123456"),
            SecretKey([2; 32]).keyed_hash("a", "123456")
        );
        assert_eq!(key.keyed_hash("a", "1"), key.keyed_hash("a", "1"));
    }

    #[test]
    fn digits_and_tokens_have_the_asked_shape() {
        let code = random_digits(6);
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert_ne!(random_token(32), random_token(32));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("tram-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.key");
        let _ = std::fs::remove_file(&path);
        let a = SecretKey::load_or_create(&path).unwrap();
        let b = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(a.keyed_hash("p", "v"), b.keyed_hash("p", "v"));
    }
}
