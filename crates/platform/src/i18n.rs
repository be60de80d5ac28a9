//! User-facing text in Traditional Chinese (Hong Kong, the default), English
//! and Simplified Chinese. Catalogs are TOML files compiled into the binary;
//! nested tables become dotted keys (`[login] title = …` → `login.title`), and
//! `{name}` placeholders are filled from arguments.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Locale {
    #[default]
    #[serde(rename = "zh-HK")]
    ZhHk,
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::ZhHk, Locale::En, Locale::ZhCn];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhHk => "zh-HK",
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The locale's own name, for the language switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::ZhHk => "繁體中文",
            Locale::En => "English",
            Locale::ZhCn => "简体中文",
        }
    }

    /// Parses a tag such as `en`, `en-GB`, `zh-HK`, `zh-TW`, `zh-Hant`, `zh-CN`.
    pub fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "en" || tag.starts_with("en-") {
            Some(Locale::En)
        } else if tag == "zh-cn" || tag == "zh-sg" || tag.starts_with("zh-hans") {
            Some(Locale::ZhCn)
        } else if tag == "zh" || tag.starts_with("zh-") {
            Some(Locale::ZhHk)
        } else {
            None
        }
    }

    /// The first supported language of an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut ranked: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        ranked.into_iter().find_map(|(_, tag)| Locale::parse(tag))
    }

    /// The text for `key`; the key itself if no catalog has it (a test makes
    /// sure every key exists in every locale).
    pub fn t(self, key: &str) -> &'static str {
        let catalogs = catalogs();
        catalogs[&self]
            .get(key)
            .or_else(|| catalogs[&Locale::ZhHk].get(key))
            .map(|s| s.as_str())
            .unwrap_or_else(|| Box::leak(key.to_string().into_boxed_str()))
    }

    /// The text for `key` with `{name}` placeholders filled in.
    pub fn tf(self, key: &str, args: &[(&str, String)]) -> String {
        let mut text = self.t(key).to_string();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// Catalog files: one per domain and locale, so each domain edits its own.
macro_rules! catalog_files {
    ($($locale:expr => $tag:literal),*) => {
        &[$(
            ($locale, include_str!(concat!("../locales/", $tag, "/common.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/accounts.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/org.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/chat.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/bots.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/robots_outgoing.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/approvals.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/approvals_pages.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/approvals_designer.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/approvals_card.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/robots_schedule.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/assistant.toml"))),
            ($locale, include_str!(concat!("../locales/", $tag, "/notices.toml"))),
        )*]
    };
}

const SOURCES: &[(Locale, &str)] =
    catalog_files!(Locale::ZhHk => "zh-HK", Locale::En => "en", Locale::ZhCn => "zh-CN");

fn catalogs() -> &'static HashMap<Locale, HashMap<String, String>> {
    static CATALOGS: OnceLock<HashMap<Locale, HashMap<String, String>>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        let mut catalogs: HashMap<Locale, HashMap<String, String>> = HashMap::new();
        for (locale, source) in SOURCES {
            let table: toml::Table = source
                .parse()
                .unwrap_or_else(|e| panic!("a {} catalog does not parse: {e}", locale.tag()));
            flatten("", &table, catalogs.entry(*locale).or_default());
        }
        catalogs
    })
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&full, inner, out),
            toml::Value::String(text) => {
                if out.insert(full.clone(), text.clone()).is_some() {
                    panic!("locale key {full} is defined twice");
                }
            }
            other => panic!("locale key {full} is not text: {other}"),
        }
    }
}

tokio::task_local! {
    /// The locale of the request being served, so that error responses can
    /// speak the user's language without threading it through every call.
    pub static REQUEST_LOCALE: Locale;
}

/// The current request's locale (zh-HK outside a request).
pub fn current() -> Locale {
    REQUEST_LOCALE.try_with(|l| *l).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_exists_in_every_locale() {
        let catalogs = catalogs();
        let base = &catalogs[&Locale::ZhHk];
        for locale in Locale::ALL {
            let other = &catalogs[&locale];
            for key in base.keys() {
                assert!(other.contains_key(key), "{} lacks {key}", locale.tag());
            }
            for key in other.keys() {
                assert!(
                    base.contains_key(key),
                    "zh-HK lacks {key} (in {})",
                    locale.tag()
                );
            }
        }
    }

    #[test]
    fn placeholders_in_a_text_are_the_same_in_every_locale() {
        let catalogs = catalogs();
        let holes = |s: &str| {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            v.sort();
            v
        };
        for (key, text) in &catalogs[&Locale::ZhHk] {
            for locale in [Locale::En, Locale::ZhCn] {
                assert_eq!(
                    holes(text),
                    holes(&catalogs[&locale][key]),
                    "{key} in {}",
                    locale.tag()
                );
            }
        }
    }

    #[test]
    fn negotiates_from_accept_language() {
        assert_eq!(
            Locale::from_accept_language("en-US,en;q=0.9"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::from_accept_language("fr;q=0.9, zh-CN;q=0.8"),
            Some(Locale::ZhCn)
        );
        assert_eq!(Locale::from_accept_language("zh-TW"), Some(Locale::ZhHk));
        assert_eq!(Locale::from_accept_language("fr"), None);
        assert_eq!(
            Locale::En.tf("test.greeting", &[("name", "Ada".into())]),
            "Hello, Ada"
        );
    }
}
