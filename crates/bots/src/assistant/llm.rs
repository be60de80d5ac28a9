//! The optional language model: an OpenAI-compatible chat completions
//! endpoint (`POST {llm_base_url}/chat/completions`, `Authorization: Bearer`
//! with the API key) that words an answer from the numbered passages the
//! retrieval found. Tram keeps its own citations whatever the model says,
//! and answers offline (extractively) when the model fails or is slow.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tram_platform::config::AssistantConfig;

/// The default wait for the model.
const DEFAULT_TIMEOUT_SECS: u64 = 20;

/// What the model is told; the passages and question follow as the user's
/// message.
pub const SYSTEM_PROMPT: &str = "You are the company's assistant. Answer the question using only the numbered \
passages below, in the language of the question. Cite the passages you used as [n]. If the passages do not \
contain the answer, say that you do not know.";

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("LLM request failed: {0}")]
    Request(String),
    #[error("LLM answered HTTP {0}")]
    Status(u16),
    #[error("LLM answer unreadable or empty")]
    Unreadable,
}

/// The one way Tram talks to a language model.
pub struct Llm<'a> {
    config: &'a AssistantConfig,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

/// The user's message: the numbered passages, then the question.
pub fn prompt(passages: &[(String, String)], question: &str) -> String {
    let mut text = String::from("Passages:\n");
    for (n, (title, passage)) in passages.iter().enumerate() {
        text.push_str(&format!("[{}] {title}\n{passage}\n\n", n + 1));
    }
    text.push_str(&format!("Question: {question}"));
    text
}

impl<'a> Llm<'a> {
    /// The configured model, if there is one.
    pub fn configured(config: &'a AssistantConfig) -> Option<Llm<'a>> {
        (!config.llm_base_url.trim().is_empty()).then_some(Llm { config })
    }

    /// The model's answer to `question` from `passages` (title, text).
    pub async fn answer(
        &self,
        passages: &[(String, String)],
        question: &str,
    ) -> Result<String, LlmError> {
        let timeout = match self.config.llm_timeout_secs {
            0 => DEFAULT_TIMEOUT_SECS,
            secs => secs,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout))
            .build()
            .map_err(|e| LlmError::Request(e.to_string()))?;
        let url = format!(
            "{}/chat/completions",
            self.config.llm_base_url.trim().trim_end_matches('/')
        );
        let body = json!({
            "model": self.config.llm_model,
            "messages": [
                { "role": "system", "content": SYSTEM_PROMPT },
                { "role": "user", "content": prompt(passages, question) },
            ],
            "temperature": 0,
        });
        let mut request = client.post(&url).json(&body);
        if !self.config.llm_api_key.is_empty() {
            request = request.bearer_auth(&self.config.llm_api_key);
        }
        // Errors name the failure, never the request (it holds the key).
        let response = request
            .send()
            .await
            .map_err(|e| LlmError::Request(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(LlmError::Status(response.status().as_u16()));
        }
        let completion: Completion = response.json().await.map_err(|_| LlmError::Unreadable)?;
        completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .ok_or(LlmError::Unreadable)
    }
}
