//! Password hashing with argon2id. Parameters come from configuration
//! (defaults: 19 MiB, 2 passes, 1 lane: OWASP's minimum recommendation,
//! measured in docs/benchmarks.md). Hashing runs on the blocking pool so a
//! burst of logins cannot stall the async workers.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AccountError, AccountResult};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password, verified against when an account does
    /// not exist, so that the answer takes as long as for a real account.
    dummy: Arc<OnceLock<String>>,
}

impl Passwords {
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Passwords {
        let params =
            Params::new(memory_kib, iterations, lanes, None).expect("valid argon2 parameters");
        Passwords {
            params,
            dummy: Arc::new(OnceLock::new()),
        }
    }

    /// One instance per parameter set for the whole process, so the dummy
    /// hash is computed once.
    pub fn shared(memory_kib: u32, iterations: u32, lanes: u32) -> Passwords {
        static INSTANCES: std::sync::Mutex<Vec<((u32, u32, u32), Passwords)>> =
            std::sync::Mutex::new(Vec::new());
        let mut instances = INSTANCES.lock().expect("password instances lock");
        let key = (memory_kib, iterations, lanes);
        if let Some((_, p)) = instances.iter().find(|(k, _)| *k == key) {
            return p.clone();
        }
        let passwords = Passwords::new(memory_kib, iterations, lanes);
        instances.push((key, passwords.clone()));
        passwords
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn check_policy(password: &str) -> AccountResult<()> {
        let len = password.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&len) || password.trim().is_empty() {
            return Err(AccountError::WeakPassword);
        }
        Ok(())
    }

    pub async fn hash(&self, password: &str) -> AccountResult<String> {
        let this = self.clone();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || this.hash_now(&password))
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?
    }

    fn hash_now(&self, password: &str) -> AccountResult<String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Internal(format!("argon2: {e}")))
    }

    /// Verifies `password` against `stored`; with `None` (no such account)
    /// burns the same time and answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let this = self.clone();
        let password = password.to_string();
        let stored = stored.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let target = match &stored {
                Some(s) => s.clone(),
                None => this
                    .dummy
                    .get_or_init(|| {
                        this.hash_now(&tram_platform::crypto::random_token(16))
                            .unwrap_or_default()
                    })
                    .clone(),
            };
            let ok = PasswordHash::new(&target)
                .map(|parsed| {
                    this.argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            ok && stored.is_some()
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let passwords = Passwords::new(1024, 1, 1);
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(passwords.verify("correct horse", Some(&hash)).await);
        assert!(!passwords.verify("wrong horse", Some(&hash)).await);
        assert!(!passwords.verify("correct horse", None).await);
    }

    #[test]
    fn policy_refuses_short_and_blank_passwords() {
        assert!(Passwords::check_policy("short").is_err());
        assert!(Passwords::check_policy("        ").is_err());
        assert!(Passwords::check_policy("long enough").is_ok());
    }
}
