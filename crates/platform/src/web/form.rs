//! What a re-rendered form shows after a refused submission: the overall
//! message and the message for each field, in the user's language.

use crate::i18n::Locale;
use crate::ApiError;

#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub message: Option<String>,
    fields: Vec<(String, String)>,
}

impl FormErrors {
    pub fn none() -> FormErrors {
        FormErrors::default()
    }

    pub fn from_error(err: &ApiError, locale: Locale) -> FormErrors {
        FormErrors {
            message: Some(err.message(locale)),
            fields: err
                .fields
                .iter()
                .map(|(name, msg)| (name.to_string(), msg.render(locale)))
                .collect(),
        }
    }

    /// The message for one field (empty when there is none).
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }

    pub fn has(&self, name: &str) -> bool {
        !self.field(name).is_empty()
    }

    /// The overall message, unless every message is already shown at a field.
    pub fn banner(&self) -> &str {
        match &self.message {
            Some(message) if !self.fields.iter().any(|(_, m)| m == message) => message,
            _ => "",
        }
    }
}
