//! Card buttons: what a click does. DingTalk's buttons open a link; a
//! card composed in Tram may also open a Tram page with prefilled values
//! (a same-origin path, never another site) or call back the robot that
//! sent it. A card that Tram's own services post as a work notice may also
//! act through Tram's API as the member who clicks (approve from the chat,
//! with a comment). Rendered as safe HTML: a new-tab link, a same-tab link,
//! a `<button data-card-callback>` that the chat page posts, or a page link
//! `data-card-act` that the chat page turns into a comment dialog.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{escape, safe_link, CardButton, MAX_URL_CHARS};

/// What a card button does when clicked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ButtonAction {
    /// Opens `url` (http or https) in a new tab: DingTalk's buttons.
    #[default]
    Url,
    /// Opens a Tram page (`url` is a path beginning with `/`, with the
    /// prefilled values as its query string) in the same tab.
    Page,
    /// Tells the robot that sent the card, with this value (Tram posts a
    /// signed callback to the robot's server).
    Callback { value: String },
    /// Work notices only (robots cannot send it): the chat page asks for an
    /// optional comment in a small dialog, then posts `values` plus
    /// `comment` as a JSON object to `api` (a path under `/api/`) with the
    /// session of the member who clicked, so the API's own permission
    /// checks decide. `url` is the Tram page opened without the chat page's
    /// script.
    Act {
        api: String,
        values: BTreeMap<String, String>,
    },
}

impl ButtonAction {
    pub fn is_url(&self) -> bool {
        matches!(self, ButtonAction::Url)
    }
}

/// Longest callback value of a button, in characters.
pub const MAX_BUTTON_VALUE_CHARS: usize = 200;
/// Most values an `act` button posts.
pub const MAX_ACT_VALUES: usize = 8;

/// The API path an `act` button may post to: a safe page under `/api/`,
/// without a query.
pub fn safe_api(raw: &str) -> Option<String> {
    safe_page(raw).filter(|p| p.starts_with("/api/") && !p.contains('?'))
}

/// Whether an `act` button's values are bounded: not too many, no blank
/// key, no `comment` (the dialog's), no text too long.
pub(super) fn act_values_ok(values: &BTreeMap<String, String>) -> bool {
    values.len() <= MAX_ACT_VALUES
        && values.iter().all(|(k, v)| {
            !k.trim().is_empty()
                && k != "comment"
                && k.chars().count() <= MAX_BUTTON_VALUE_CHARS
                && v.chars().count() <= MAX_BUTTON_VALUE_CHARS
        })
}

/// A Tram page a button may open: a path on this server (beginning with
/// one `/`, no scheme or host, no backslashes or control characters),
/// normalised, with its query. `None` for anything else.
pub fn safe_page(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if !raw.starts_with('/')
        || raw.starts_with("//")
        || raw.len() > MAX_URL_CHARS
        || raw.chars().any(|c| c == '\\' || c.is_control())
    {
        return None;
    }
    // Resolved against a stand-in origin: whatever it resolves to must
    // stay on that origin.
    let base = url::Url::parse("https://tram.invalid/").ok()?;
    let resolved = base.join(raw).ok()?;
    if resolved.origin() != base.origin() {
        return None;
    }
    let mut out = resolved.path().to_string();
    if let Some(query) = resolved.query().filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// A page address from a path and `key=value` pairs (the pairs become the
/// query string, encoded). `None` when the path is not a safe page or a
/// pair has no key.
pub fn page_with_values(path: &str, values: &[(String, String)]) -> Option<String> {
    let page = safe_page(path)?;
    if values.is_empty() {
        return Some(page);
    }
    if values.iter().any(|(k, _)| k.trim().is_empty()) {
        return None;
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in values {
        query.append_pair(k.trim(), v.trim());
    }
    let sep = if page.contains('?') { '&' } else { '?' };
    safe_page(&format!("{page}{sep}{}", query.finish()))
}

/// One button: a new-tab link, a same-tab link to a Tram page, or a button
/// the chat page turns into a callback to the robot (by its index). An
/// `act` button is a link to its page that, in a work notice
/// (`from_service`), carries what the chat page's dialog posts; anywhere
/// else it is only the link.
pub(super) fn push_button(out: &mut String, index: usize, button: &CardButton, from_service: bool) {
    let target = match &button.action {
        ButtonAction::Url => safe_link(&button.url).map(|u| (u, true)),
        ButtonAction::Page => safe_page(&button.url).map(|u| (u, false)),
        ButtonAction::Act { api, values } => {
            let page = safe_page(&button.url);
            match (safe_api(api), from_service && act_values_ok(values)) {
                (Some(api), true) => {
                    out.push_str("<a class=\"card-button\" href=\"");
                    out.push_str(&escape(page.as_deref().unwrap_or("#")));
                    out.push_str("\" data-card-act=\"");
                    out.push_str(&index.to_string());
                    out.push_str("\" data-act-api=\"");
                    out.push_str(&escape(&api));
                    out.push_str("\" data-act-values=\"");
                    out.push_str(&escape(
                        &serde_json::to_string(values).expect("strings serialise"),
                    ));
                    out.push_str("\" data-testid=\"card-act\">");
                    out.push_str(&escape(&button.title));
                    out.push_str("</a>");
                    return;
                }
                _ => page.map(|u| (u, false)),
            }
        }
        ButtonAction::Callback { .. } => {
            out.push_str("<button type=\"button\" class=\"card-button\" data-card-callback=\"");
            out.push_str(&index.to_string());
            out.push_str("\" data-testid=\"card-callback\">");
            out.push_str(&escape(&button.title));
            out.push_str("</button>");
            return;
        }
    };
    match target {
        Some((url, new_tab)) => {
            out.push_str("<a class=\"card-button\" href=\"");
            out.push_str(&escape(&url));
            out.push_str(if new_tab {
                "\" target=\"_blank\" rel=\"noopener noreferrer\">"
            } else {
                "\">"
            });
        }
        None => out.push_str("<a class=\"card-button disabled\">"),
    }
    out.push_str(&escape(&button.title));
    out.push_str("</a>");
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn page_buttons_stay_on_this_server() {
        assert_eq!(safe_page("/forms/travel").as_deref(), Some("/forms/travel"));
        assert_eq!(
            safe_page("/a/../forms/travel?x=1").as_deref(),
            Some("/forms/travel?x=1")
        );
        for bad in [
            "forms/travel",
            "//evil.example.com/x",
            "/\\evil.example.com",
            "https://evil.example.com/",
            "javascript:alert(1)",
            "/x\ny",
        ] {
            assert_eq!(safe_page(bad), None, "{bad:?}");
        }
        let values = vec![
            ("destination".to_string(), "東京 & 大阪".to_string()),
            ("days".to_string(), "3".to_string()),
        ];
        assert_eq!(
            page_with_values("/forms/travel", &values).as_deref(),
            Some("/forms/travel?destination=%E6%9D%B1%E4%BA%AC+%26+%E5%A4%A7%E9%98%AA&days=3")
        );
        assert_eq!(
            page_with_values("/forms/travel", &[(" ".into(), "x".into())]),
            None
        );
    }

    #[test]
    fn button_actions_render_safely_and_old_cards_read_as_before() {
        let old: Card = serde_json::from_str(
            r#"{"type":"action","title":"t","text":"x","buttons":[{"title":"b","url":"https://a.example/"}],"horizontal":false}"#,
        )
        .unwrap();
        let Card::Action { buttons, .. } = &old else {
            panic!("an action card")
        };
        assert_eq!(buttons[0].action, ButtonAction::Url);
        assert!(!serde_json::to_string(&old).unwrap().contains("kind"));
        let card = Card::Action {
            title: "出差".into(),
            text: "請選擇".into(),
            buttons: vec![
                CardButton {
                    title: "填表".into(),
                    url: "/forms/travel?d=1".into(),
                    action: ButtonAction::Page,
                },
                CardButton {
                    title: "<同意>".into(),
                    url: "javascript:alert(1)".into(),
                    action: ButtonAction::Callback {
                        value: "approve".into(),
                    },
                },
            ],
            horizontal: true,
        }
        .checked()
        .unwrap();
        let html = card.to_html(false);
        assert!(
            html.contains("<a class=\"card-button\" href=\"/forms/travel?d=1\">"),
            "{html}"
        );
        assert!(html.contains("data-card-callback=\"1\""), "{html}");
        assert!(html.contains("&lt;同意&gt;"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
        let bad_page = Card::Action {
            title: "t".into(),
            text: "x".into(),
            buttons: vec![CardButton {
                title: "b".into(),
                url: "https://evil.example/".into(),
                action: ButtonAction::Page,
            }],
            horizontal: false,
        };
        assert!(matches!(bad_page.checked(), Err(ChatError::UnsafeLink)));
    }

    #[test]
    fn act_buttons_come_only_from_services_and_act_only_in_notices() {
        let card = || Card::Action {
            title: "報銷".into(),
            text: "等你審批".into(),
            buttons: vec![CardButton {
                title: "批准".into(),
                url: "/approvals/i1?task=t1&decision=approve".into(),
                action: ButtonAction::Act {
                    api: "/api/v1/approvals/tasks/t1/decision".into(),
                    values: [("decision".to_string(), "approve\"><x".to_string())].into(),
                },
            }],
            horizontal: true,
        };
        // A robot cannot make members act.
        assert!(matches!(card().checked(), Err(ChatError::InvalidCard)));
        let checked = card().checked_from_service().unwrap();
        let html = checked.to_html(true);
        assert!(html.contains("data-card-act=\"0\""), "{html}");
        assert!(
            html.contains("data-act-api=\"/api/v1/approvals/tasks/t1/decision\""),
            "{html}"
        );
        assert!(
            html.contains(
                "data-act-values=\"{&quot;decision&quot;:&quot;approve\\&quot;&gt;&lt;x&quot;}\""
            ),
            "{html}"
        );
        assert!(
            html.contains("href=\"/approvals/i1?task=t1&amp;decision=approve\""),
            "{html}"
        );
        // Stored some other way outside a notice: only the page link.
        let plain = checked.to_html(false);
        assert!(!plain.contains("data-card-act"), "{plain}");
        assert!(plain.contains("href=\"/approvals/i1?task=t1&amp;decision=approve\""));
        for (api, values) in [
            ("https://evil.example/api/x", vec![]),
            ("/approvals/i1", vec![]),
            ("/api/v1/x?y=1", vec![]),
            ("/api/v1/x", vec![("comment", "mine")]),
            ("/api/v1/x", vec![(" ", "x")]),
        ] {
            let bad = Card::Action {
                title: "t".into(),
                text: "x".into(),
                buttons: vec![CardButton {
                    title: "b".into(),
                    url: "/approvals/i1".into(),
                    action: ButtonAction::Act {
                        api: api.into(),
                        values: values
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    },
                }],
                horizontal: false,
            };
            assert!(bad.checked_from_service().is_err(), "{api}");
        }
    }
}
