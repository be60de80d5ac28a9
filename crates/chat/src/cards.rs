//! Cards: messages with more shape than text — a link with a picture, a
//! Markdown text with buttons, a list of links — such as robots send. A
//! card is checked before it is stored (links only to http and https, after
//! unwrapping DingTalk's `dingtalk://dingtalkclient/page/link?url=…`
//! wrapper; bounded sizes) and rendered to safe HTML when it is read: every
//! text escaped, Markdown through the robot renderer, pictures only from
//! http(s) addresses. `buttons` holds what a button does (open a link, open
//! a Tram page, call back the robot).

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, ChatResult};
use crate::markdown;

mod buttons;

use buttons::push_button;
pub use buttons::{
    page_with_values, safe_api, safe_page, ButtonAction, MAX_ACT_VALUES, MAX_BUTTON_VALUE_CHARS,
};

/// Most buttons on one card.
pub const MAX_BUTTONS: usize = 10;
/// Most entries in one feed card.
pub const MAX_FEED_ITEMS: usize = 20;
/// Longest title or button label, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest link or picture address.
pub const MAX_URL_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardButton {
    pub title: String,
    /// For `url`: the http(s) link; for `page`: the same-origin path with
    /// its query; for `callback`: empty.
    pub url: String,
    /// What a click does (absent in older cards: open `url`).
    #[serde(default, skip_serializing_if = "ButtonAction::is_url")]
    pub action: ButtonAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedItem {
    pub title: String,
    pub url: String,
    pub picture: Option<String>,
}

/// What a card shows. Stored as JSON beside the message; `type` is the tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Card {
    /// A title and a short text that open `url`, with an optional picture.
    Link {
        title: String,
        text: String,
        url: String,
        picture: Option<String>,
    },
    /// A Markdown text with buttons under it, stacked or side by side.
    Action {
        title: String,
        /// Markdown (the robot subset: pictures allowed).
        text: String,
        buttons: Vec<CardButton>,
        /// Buttons side by side (otherwise stacked).
        horizontal: bool,
    },
    /// A list of links, each with a picture.
    Feed { items: Vec<FeedItem> },
}

/// A link target a card (or robot Markdown) may open: http and https, also
/// when wrapped in DingTalk's "open in the client" link, which DingTalk
/// clients and libraries put around every URL they send. `None` for
/// anything else (javascript:, data:, other dingtalk:// actions, …).
pub fn safe_link(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_CHARS {
        return None;
    }
    let parsed = url::Url::parse(raw).ok()?;
    match parsed.scheme() {
        "http" | "https" if parsed.host().is_some() => Some(parsed.to_string()),
        "dingtalk"
            if parsed.host_str() == Some("dingtalkclient") && parsed.path() == "/page/link" =>
        {
            let inner = parsed
                .query_pairs()
                .find(|(k, _)| k == "url")
                .map(|(_, v)| v.into_owned())?;
            let inner = url::Url::parse(inner.trim()).ok()?;
            (matches!(inner.scheme(), "http" | "https") && inner.host().is_some())
                .then(|| inner.to_string())
        }
        _ => None,
    }
}

/// A picture address a page may load: http or https only.
pub fn safe_picture(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_CHARS {
        return None;
    }
    let parsed = url::Url::parse(raw).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some())
        .then(|| parsed.to_string())
}

fn title(text: &str) -> ChatResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TITLE_CHARS {
        return Err(ChatError::InvalidCard);
    }
    Ok(text.to_string())
}

fn body(text: &str) -> ChatResult<String> {
    if text.chars().count() > crate::messages::MAX_BODY_CHARS {
        return Err(ChatError::InvalidCard);
    }
    Ok(text.to_string())
}

fn link(url: &str) -> ChatResult<String> {
    safe_link(url).ok_or(ChatError::UnsafeLink)
}

fn picture(url: Option<&str>) -> ChatResult<Option<String>> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => safe_picture(url).map(Some).ok_or(ChatError::UnsafeLink),
        None => Ok(None),
    }
}

impl Card {
    /// The card with its texts bounded and its links resolved and safe;
    /// `UnsafeLink` if any link or picture is not http(s), `InvalidCard` if
    /// a title is missing or something is too long or too many. `act`
    /// buttons are refused: only Tram's own services may act as the member
    /// who clicks (see `checked_from_service`).
    pub fn checked(self) -> ChatResult<Card> {
        self.check(false)
    }

    /// As `checked`, for a card Tram's own services post as a work notice:
    /// `act` buttons are allowed (their API path under `/api/`, their page
    /// on this server, their values bounded).
    pub fn checked_from_service(self) -> ChatResult<Card> {
        self.check(true)
    }

    fn check(self, from_service: bool) -> ChatResult<Card> {
        match self {
            Card::Link {
                title: t,
                text,
                url,
                picture: p,
            } => Ok(Card::Link {
                title: title(&t)?,
                text: body(&text)?,
                url: link(&url)?,
                picture: picture(p.as_deref())?,
            }),
            Card::Action {
                title: t,
                text,
                buttons,
                horizontal,
            } => {
                if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
                    return Err(ChatError::InvalidCard);
                }
                let buttons = buttons
                    .into_iter()
                    .map(|b| {
                        let title = title(&b.title)?;
                        Ok(match b.action {
                            ButtonAction::Url => CardButton {
                                title,
                                url: link(&b.url)?,
                                action: ButtonAction::Url,
                            },
                            ButtonAction::Page => CardButton {
                                title,
                                url: safe_page(&b.url).ok_or(ChatError::UnsafeLink)?,
                                action: ButtonAction::Page,
                            },
                            ButtonAction::Act { api, values } => {
                                if !from_service || !buttons::act_values_ok(&values) {
                                    return Err(ChatError::InvalidCard);
                                }
                                CardButton {
                                    title,
                                    url: safe_page(&b.url).ok_or(ChatError::UnsafeLink)?,
                                    action: ButtonAction::Act {
                                        api: safe_api(&api).ok_or(ChatError::UnsafeLink)?,
                                        values,
                                    },
                                }
                            }
                            ButtonAction::Callback { value } => {
                                if value.chars().count() > MAX_BUTTON_VALUE_CHARS {
                                    return Err(ChatError::InvalidCard);
                                }
                                CardButton {
                                    title,
                                    url: String::new(),
                                    action: ButtonAction::Callback { value },
                                }
                            }
                        })
                    })
                    .collect::<ChatResult<Vec<_>>>()?;
                Ok(Card::Action {
                    title: title(&t)?,
                    text: body(&text)?,
                    buttons,
                    horizontal,
                })
            }
            Card::Feed { items } => {
                if items.is_empty() || items.len() > MAX_FEED_ITEMS {
                    return Err(ChatError::InvalidCard);
                }
                let items = items
                    .into_iter()
                    .map(|i| {
                        Ok(FeedItem {
                            title: title(&i.title)?,
                            url: link(&i.url)?,
                            picture: picture(i.picture.as_deref())?,
                        })
                    })
                    .collect::<ChatResult<Vec<_>>>()?;
                Ok(Card::Feed { items })
            }
        }
    }

    /// The words of the card as plain text: what search indexes and what a
    /// reply quotes.
    pub fn summary(&self) -> String {
        match self {
            Card::Link { title, text, .. } => format!("{title}\n{text}"),
            Card::Action {
                title,
                text,
                buttons,
                ..
            } => {
                let mut out = format!("{title}\n{text}");
                for b in buttons {
                    out.push('\n');
                    out.push_str(&b.title);
                }
                out
            }
            Card::Feed { items } => items
                .iter()
                .map(|i| i.title.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Safe HTML. Links and pictures are checked again here, so a card that
    /// reached the database some other way still cannot carry script; an
    /// `act` button carries its action only in a work notice
    /// (`from_service`), elsewhere it is a plain link to its page.
    pub fn to_html(&self, from_service: bool) -> String {
        let mut out = String::new();
        match self {
            Card::Link {
                title,
                text,
                url,
                picture,
            } => {
                out.push_str("<div class=\"card-msg card-link\">");
                open_link(&mut out, url, "card-link-body");
                out.push_str("<span class=\"card-title\">");
                out.push_str(&escape(title));
                out.push_str("</span><span class=\"card-row\"><span class=\"card-text\">");
                out.push_str(&escape(text));
                out.push_str("</span>");
                push_picture(&mut out, picture.as_deref());
                out.push_str("</span>");
                close_link(&mut out, url);
                out.push_str("</div>");
            }
            Card::Action {
                title,
                text,
                buttons,
                horizontal,
            } => {
                out.push_str("<div class=\"card-msg card-action\"><div class=\"card-title\">");
                out.push_str(&escape(title));
                out.push_str("</div><div class=\"card-text\">");
                out.push_str(&markdown::render_robot(text));
                out.push_str("</div><div class=\"card-buttons ");
                out.push_str(if *horizontal {
                    "horizontal"
                } else {
                    "vertical"
                });
                out.push_str("\">");
                for (index, button) in buttons.iter().enumerate() {
                    push_button(&mut out, index, button, from_service);
                }
                out.push_str("</div></div>");
            }
            Card::Feed { items } => {
                out.push_str("<ul class=\"card-msg card-feed\">");
                for item in items {
                    out.push_str("<li>");
                    open_link(&mut out, &item.url, "card-feed-item");
                    out.push_str("<span class=\"card-title\">");
                    out.push_str(&escape(&item.title));
                    out.push_str("</span>");
                    push_picture(&mut out, item.picture.as_deref());
                    close_link(&mut out, &item.url);
                    out.push_str("</li>");
                }
                out.push_str("</ul>");
            }
        }
        out
    }
}

fn open_link(out: &mut String, url: &str, class: &str) {
    match safe_link(url) {
        Some(url) => {
            out.push_str("<a class=\"");
            out.push_str(class);
            out.push_str("\" href=\"");
            out.push_str(&escape(&url));
            out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer\">");
        }
        None => {
            out.push_str("<span class=\"");
            out.push_str(class);
            out.push_str("\">");
        }
    }
}

fn close_link(out: &mut String, url: &str) {
    out.push_str(if safe_link(url).is_some() {
        "</a>"
    } else {
        "</span>"
    });
}

fn push_picture(out: &mut String, picture: Option<&str>) {
    if let Some(src) = picture.and_then(safe_picture) {
        out.push_str("<img class=\"card-picture\" src=\"");
        out.push_str(&escape(&src));
        out.push_str("\" alt=\"\" loading=\"lazy\" referrerpolicy=\"no-referrer\">");
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_http_or_unwrapped_from_dingtalk() {
        assert_eq!(
            safe_link("https://erp.example.com/o/1?a=b").as_deref(),
            Some("https://erp.example.com/o/1?a=b")
        );
        // What DingtalkChatbot sends: the real address URL-encoded inside.
        let wrapped = "dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Ferp.example.com%2Fo%2F1%3Fa%3Db&pc_slide=false";
        assert_eq!(
            safe_link(wrapped).as_deref(),
            Some("https://erp.example.com/o/1?a=b")
        );
        for bad in [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "dingtalk://dingtalkclient/page/link?url=javascript%3Aalert(1)",
            "dingtalk://dingtalkclient/action/sendmsg?dingtalk_id=x",
            "vbscript:x",
            "//evil.example.com",
            "/relative",
            "",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
        }
        assert_eq!(
            safe_picture("https://img.example.com/a.png").as_deref(),
            Some("https://img.example.com/a.png")
        );
        assert_eq!(safe_picture("javascript:alert(1)"), None);
        assert_eq!(safe_picture(wrapped), None, "pictures are not wrapped");
    }

    #[test]
    fn cards_are_checked_and_rendered_safely() {
        let card = Card::Action {
            title: "<b>審批</b>".into(),
            text: "**請批** <script>alert(1)</script>".into(),
            buttons: vec![CardButton {
                title: "同意\"onclick=alert(1)".into(),
                url: "https://erp.example.com/ok".into(),
                action: ButtonAction::Url,
            }],
            horizontal: true,
        }
        .checked()
        .unwrap();
        let html = card.to_html(false);
        assert!(html.contains("&lt;b&gt;審批&lt;/b&gt;"), "{html}");
        assert!(html.contains("<strong>請批</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("同意&quot;onclick=alert(1)"), "{html}");
        assert!(
            html.contains("href=\"https://erp.example.com/ok\""),
            "{html}"
        );
        let bad = Card::Link {
            title: "x".into(),
            text: "y".into(),
            url: "javascript:alert(1)".into(),
            picture: None,
        };
        assert!(matches!(bad.checked(), Err(ChatError::UnsafeLink)));
        let bad_picture = Card::Feed {
            items: vec![FeedItem {
                title: "x".into(),
                url: "https://a.example".into(),
                picture: Some("data:image/png;base64,AA".into()),
            }],
        };
        assert!(matches!(bad_picture.checked(), Err(ChatError::UnsafeLink)));
        let no_title = Card::Feed {
            items: vec![FeedItem {
                title: " ".into(),
                url: "https://a.example".into(),
                picture: None,
            }],
        };
        assert!(matches!(no_title.checked(), Err(ChatError::InvalidCard)));
        assert!(matches!(
            Card::Feed { items: vec![] }.checked(),
            Err(ChatError::InvalidCard)
        ));
    }

    #[test]
    fn a_stored_card_with_a_bad_link_renders_without_it() {
        // Defence in depth: rendering re-checks what validation checked.
        let card = Card::Link {
            title: "t".into(),
            text: "x".into(),
            url: "javascript:alert(1)".into(),
            picture: Some("javascript:x".into()),
        };
        let html = card.to_html(false);
        assert!(!html.contains("javascript"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }
}
