//! Password hashing with argon2id. Parameters come from configuration
//! (defaults: 19 MiB, 2 passes, 1 lane: OWASP's minimum recommendation,
//! measured in docs/benchmarks.md). Hashing runs on the blocking pool so a
//! burst of logins cannot stall the async workers, at most one hash per CPU
//! at a time: more would not finish sooner, and each holds its memory cost
//! (a burst of 100 logins would otherwise ask for 1.9 GiB at once).

use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{AccountError, AccountResult};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password, verified against when an account does
    /// not exist, so that the answer takes as long as for a real account.
    dummy: Arc<OnceLock<String>>,
    /// One permit per CPU; a hash waits for one.
    permits: Arc<tokio::sync::Semaphore>,
    /// argon2's working memory, reused from hash to hash (at most one
    /// buffer per permit). Allocating 19 MiB afresh for every hash left the
    /// allocator holding hundreds of MiB after a burst of logins.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Passwords {
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Passwords {
        let params =
            Params::new(memory_kib, iterations, lanes, None).expect("valid argon2 parameters");
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Passwords {
            params,
            dummy: Arc::new(OnceLock::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(cpus)),
            memory: Arc::new(Mutex::new(Vec::new())),
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
        let _permit = self.permits.acquire().await;
        tokio::task::spawn_blocking(move || this.hash_now(&password))
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?
    }

    fn hash_now(&self, password: &str) -> AccountResult<String> {
        let internal = |e: &dyn std::fmt::Display| AccountError::Internal(format!("argon2: {e}"));
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt
            .as_salt()
            .decode_b64(&mut salt_buf)
            .map_err(|e| internal(&e))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.with_memory(&self.params, |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, memory)
        })
        .map_err(|e| internal(&e))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| internal(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` hashes to `stored` (a PHC string, with the
    /// parameters it was made with); the comparison is constant-time.
    fn matches(&self, password: &str, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Ok(params), Ok(algorithm), Some(expected), Some(salt)) = (
            Params::try_from(&parsed),
            Algorithm::try_from(parsed.algorithm),
            parsed.hash,
            parsed.salt,
        ) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        let hashed = self.with_memory(&params, |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, memory)
        });
        // Output's equality is constant-time.
        hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == expected)
    }

    /// Runs `hash` with working memory for `params`: a pooled buffer when
    /// they are the configured parameters, a one-off one otherwise (hashes
    /// made before a parameter change).
    fn with_memory<R>(&self, params: &Params, hash: impl FnOnce(&mut [Block]) -> R) -> R {
        let count = params.block_count();
        let pooled = count == self.params.block_count();
        let mut blocks = pooled
            .then(|| self.memory.lock().ok()?.pop())
            .flatten()
            .unwrap_or_else(|| vec![Block::default(); count]);
        let result = hash(&mut blocks);
        if pooled {
            if let Ok(mut pool) = self.memory.lock() {
                pool.push(blocks);
            }
        }
        result
    }

    /// Verifies `password` against `stored`; with `None` (no such account)
    /// burns the same time and answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let this = self.clone();
        let password = password.to_string();
        let stored = stored.map(str::to_string);
        let _permit = self.permits.acquire().await;
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
            this.matches(&password, &target) && stored.is_some()
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

    #[tokio::test]
    async fn hashes_made_with_other_parameters_still_verify() {
        let old = Passwords::new(2048, 2, 1)
            .hash("correct horse")
            .await
            .unwrap();
        assert!(old.contains("m=2048,t=2,p=1"));
        let current = Passwords::new(1024, 1, 1);
        assert!(current.verify("correct horse", Some(&old)).await);
        assert!(!current.verify("correct hose", Some(&old)).await);
        assert!(
            !current
                .verify("correct horse", Some("$argon2id$garbage"))
                .await
        );
    }

    #[test]
    fn matches_the_reference_implementation() {
        // A hash made by the argon2 crate's own PasswordHasher verifies
        // here, and one made here verifies there.
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let passwords = Passwords::new(1024, 1, 1);
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            passwords.params.clone(),
        );
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = reference
            .hash_password(b"horse staple", &salt)
            .unwrap()
            .to_string();
        assert!(passwords.matches("horse staple", &theirs));
        assert!(!passwords.matches("horse stapler", &theirs));
        let ours = passwords.hash_now("horse staple").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(reference.verify_password(b"horse staple", &parsed).is_ok());
    }

    #[test]
    fn policy_refuses_short_and_blank_passwords() {
        assert!(Passwords::check_policy("short").is_err());
        assert!(Passwords::check_policy("        ").is_err());
        assert!(Passwords::check_policy("long enough").is_ok());
    }
}
