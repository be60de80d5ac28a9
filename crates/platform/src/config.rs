//! Server settings: defaults, then a TOML file, then `TRAM_*` environment
//! variables, then command-line flags (each layer overrides the one before).
//!
//! Nested keys use a double underscore in the environment:
//! `TRAM_SMTP__HOST=mail.example.com` sets `smtp.host`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Directory for the embedded database, blobs and the generated secret key.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/tram.db`.
    pub database_url: String,
    /// Event bus between nodes: empty for in-process (one node), or
    /// `nats://host:4222` to run several nodes side by side.
    pub bus_url: String,
    /// The address users reach the server at (used in QR codes, links and
    /// e-mails). Empty means `http://<listen>`.
    pub public_url: String,
    /// Development mode: SMS and e-mail are also written to the admin outbox
    /// page, and the console SMS provider prints message text to the log.
    pub dev_mode: bool,
    /// 64 hex characters. Empty means: generate once and keep it in
    /// `<data_dir>/secret.key`. Every node of a cluster needs the same key.
    pub secret_key: String,
    /// Client addresses are taken from `X-Forwarded-For` only when the direct
    /// peer is one of these proxies.
    pub trusted_proxies: Vec<String>,
    pub sms: SmsConfig,
    pub smtp: SmtpConfig,
    pub security: SecurityConfig,
    pub chat: ChatConfig,
    pub bots: BotsConfig,
    pub jobs: JobsConfig,
    pub assistant: AssistantConfig,
}

/// Webhook robots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BotsConfig {
    /// Messages one robot may post per minute (DingTalk allows 20).
    pub rate_limit_per_minute: i64,
    /// How long the log of robot calls is kept.
    pub log_retention_days: i64,
    /// Attempts at delivering an outgoing robot's callback.
    pub outgoing_attempts: i64,
    /// Wait before the second attempt; doubled for each one after.
    pub outgoing_retry_base_ms: i64,
    /// How long Tram waits for the robot's server to answer.
    pub outgoing_timeout_ms: u64,
    /// What a scheduled robot does by default with a run picked up later
    /// than due + grace (the server was down): `late` posts it once,
    /// late; `skip` posts nothing and logs a skipped run.
    pub schedule_missed_default: String,
    /// How late a scheduled run may start and still count as on time.
    pub schedule_grace_secs: i64,
}

impl Default for BotsConfig {
    fn default() -> Self {
        BotsConfig {
            rate_limit_per_minute: 20,
            log_retention_days: 90,
            outgoing_attempts: 4,
            outgoing_retry_base_ms: 2_000,
            outgoing_timeout_ms: 5_000,
            schedule_missed_default: "late".to_string(),
            schedule_grace_secs: 600,
        }
    }
}

/// The AI assistant robot. With no LLM configured it answers offline,
/// quoting the knowledge base; with one, an OpenAI-compatible
/// `{llm_base_url}/chat/completions` words the answer from the passages
/// found.
#[derive(Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AssistantConfig {
    /// e.g. `https://api.openai.com/v1`; empty: no LLM.
    pub llm_base_url: String,
    pub llm_model: String,
    /// Sent as `Authorization: Bearer …`; never logged.
    pub llm_api_key: String,
    /// Longest wait for the LLM before answering offline (0: 20 s).
    pub llm_timeout_secs: u64,
}

// By hand, so the API key never reaches a log line.
impl std::fmt::Debug for AssistantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssistantConfig")
            .field("llm_base_url", &self.llm_base_url)
            .field("llm_model", &self.llm_model)
            .field(
                "llm_api_key",
                &if self.llm_api_key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("llm_timeout_secs", &self.llm_timeout_secs)
            .finish()
    }
}

/// The job runner (scheduled robots, retries, timeouts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsConfig {
    /// How often each node looks for due jobs.
    pub poll_ms: u64,
    /// How long a node holds a job before another node may take it over
    /// (and the longest a job may run).
    pub lease_secs: i64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            poll_ms: 500,
            lease_secs: 60,
        }
    }
}

/// Chat limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatConfig {
    /// How long after sending a message its sender may recall it.
    pub recall_window_secs: i64,
    /// Largest image or file that can be sent in a chat.
    pub max_upload_bytes: u64,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            recall_window_secs: 24 * 3600,
            max_upload_bytes: 20 * 1024 * 1024,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            data_dir: PathBuf::from("./tram-data"),
            database_url: String::new(),
            bus_url: String::new(),
            public_url: String::new(),
            dev_mode: true,
            secret_key: String::new(),
            trusted_proxies: Vec::new(),
            sms: SmsConfig::default(),
            smtp: SmtpConfig::default(),
            security: SecurityConfig::default(),
            chat: ChatConfig::default(),
            bots: BotsConfig::default(),
            assistant: AssistantConfig::default(),
            jobs: JobsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    #[default]
    Console,
    Twilio,
    Aliyun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsConfig {
    pub provider: SmsProviderKind,
    /// Base URL of the provider's API; tests aim it at a local stand-in.
    pub api_base: String,
    /// Twilio: Account SID. Aliyun: AccessKey ID.
    pub account_id: String,
    /// Twilio: Auth Token. Aliyun: AccessKey secret.
    pub account_secret: String,
    /// Twilio: the sending number (E.164). Aliyun: the SMS sign name (簽名).
    pub sender: String,
    /// Aliyun: the template code whose `${code}` variable receives the code.
    pub template_code: String,
    /// Aliyun: region id sent with each request.
    pub region: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            provider: SmsProviderKind::Console,
            api_base: String::new(),
            account_id: String::new(),
            account_secret: String::new(),
            sender: String::new(),
            template_code: String::new(),
            region: "cn-hongkong".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection (a local relay or a development sink).
    None,
    /// Upgrade with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpConfig {
    /// Empty: no SMTP server; mail goes to the outbox page only (dev mode).
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: String,
    /// Sender address, e.g. `Tram <no-reply@example.com>`.
    pub from: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: String::new(),
            from: "Tram <no-reply@tram.localhost>".into(),
        }
    }
}

/// Limits on codes and logins. The defaults are the product's rules; tests
/// and benchmarks may loosen the rate limits, never the code rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityConfig {
    pub code_ttl_secs: i64,
    pub code_max_attempts: i64,
    pub code_resend_cooldown_secs: i64,
    /// Codes one destination may receive per hour.
    pub codes_per_destination_per_hour: i64,
    /// Codes one client address may request per hour.
    pub codes_per_ip_per_hour: i64,
    /// Failed logins for one account before it is locked for a while.
    pub login_failures_before_lock: i64,
    /// Failed logins from one address before that address is locked.
    pub login_failures_per_ip_before_lock: i64,
    /// First lock duration; every further failure doubles it, up to one hour.
    pub login_lock_secs: i64,
    pub session_ttl_days: i64,
    pub session_idle_days: i64,
    pub qr_ticket_ttl_secs: i64,
    /// argon2id memory cost in KiB, iterations and lanes.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_lanes: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            code_ttl_secs: 600,
            code_max_attempts: 5,
            code_resend_cooldown_secs: 60,
            codes_per_destination_per_hour: 5,
            codes_per_ip_per_hour: 30,
            login_failures_before_lock: 5,
            login_failures_per_ip_before_lock: 50,
            login_lock_secs: 60,
            session_ttl_days: 30,
            session_idle_days: 14,
            qr_ticket_ttl_secs: 120,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_lanes: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults < `file` (when given, it must exist) < `TRAM_*`
    /// environment variables < `overrides` (the command-line flags).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("TRAM_").split("__"))
            .merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.secret_key.is_empty()
            && (self.secret_key.len() != 64 || hex::decode(&self.secret_key).is_err())
        {
            return Err(ConfigError("secret_key must be 64 hex characters".into()));
        }
        if !self.database_url.is_empty()
            && !self.database_url.starts_with("sqlite:")
            && !self.database_url.starts_with("postgres://")
            && !self.database_url.starts_with("postgresql://")
        {
            return Err(ConfigError(
                "database_url must start with sqlite: or postgres://".into(),
            ));
        }
        if !self.bus_url.is_empty() && !self.bus_url.starts_with("nats://") {
            return Err(ConfigError(
                "bus_url must be empty or start with nats://".into(),
            ));
        }
        if !self.public_url.is_empty() && url::Url::parse(&self.public_url).is_err() {
            return Err(ConfigError("public_url must be an absolute URL".into()));
        }
        if self.bots.rate_limit_per_minute < 1 || self.bots.log_retention_days < 1 {
            return Err(ConfigError(
                "bots.rate_limit_per_minute and bots.log_retention_days must be at least 1".into(),
            ));
        }
        if self.bots.outgoing_attempts < 1
            || self.bots.outgoing_retry_base_ms < 1
            || self.bots.outgoing_timeout_ms < 1
        {
            return Err(ConfigError(
                "bots.outgoing_attempts, bots.outgoing_retry_base_ms and bots.outgoing_timeout_ms must be at least 1".into(),
            ));
        }
        if !matches!(self.bots.schedule_missed_default.as_str(), "late" | "skip")
            || self.bots.schedule_grace_secs < 0
        {
            return Err(ConfigError(
                "bots.schedule_missed_default must be late or skip, and bots.schedule_grace_secs at least 0".into(),
            ));
        }
        let llm = self.assistant.llm_base_url.trim();
        if !llm.is_empty()
            && !matches!(
                url::Url::parse(llm)
                    .map(|u| u.scheme().to_string())
                    .as_deref(),
                Ok("http" | "https")
            )
        {
            return Err(ConfigError(
                "assistant.llm_base_url must be empty or an http(s) URL".into(),
            ));
        }
        if !llm.is_empty() && self.assistant.llm_model.trim().is_empty() {
            return Err(ConfigError(
                "assistant.llm_model is needed with assistant.llm_base_url".into(),
            ));
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("tram.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// The externally visible base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_override_earlier_ones() {
        let dir = std::env::temp_dir().join(format!("tram-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tram.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[smtp]\nhost = \"mail.example\"\n",
        )
        .unwrap();
        #[derive(Serialize)]
        struct Flags {
            data_dir: &'static str,
        }
        let config = Config::load(
            Some(&file),
            Flags {
                data_dir: "/srv/tram",
            },
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.smtp.host, "mail.example");
        assert_eq!(config.data_dir, PathBuf::from("/srv/tram"));
        assert_eq!(config.smtp.port, 587);
    }

    #[test]
    fn a_missing_file_and_a_bad_key_are_refused() {
        #[derive(Serialize)]
        struct None_ {}
        let err = Config::load(Some(Path::new("/nonexistent/tram.toml")), None_ {}).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
        #[derive(Serialize)]
        struct Key {
            secret_key: &'static str,
        }
        let err = Config::load(None, Key { secret_key: "abc" }).unwrap_err();
        assert!(err.to_string().contains("64 hex"));
    }

    #[test]
    fn the_llm_needs_an_http_address_and_a_model_and_its_key_is_not_shown() {
        let mut config = Config::default();
        config.assistant.llm_base_url = "ftp://llm.example".into();
        config.assistant.llm_model = "m".into();
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("llm_base_url"));
        config.assistant.llm_base_url = "https://llm.example/v1".into();
        config.assistant.llm_model = " ".into();
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("llm_model"));
        config.assistant.llm_model = "m".into();
        config.assistant.llm_api_key = "sk-very-secret".into();
        assert!(config.validate().is_ok());
        assert!(!format!("{config:?}").contains("sk-very-secret"));
    }
}
