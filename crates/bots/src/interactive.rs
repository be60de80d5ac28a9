//! Interactive cards composed without code: in the group panel an admin
//! writes a card (title, Markdown text, buttons) and sends it as one of
//! the group's robots. Each button opens an http(s) address, opens a Tram
//! page with prefilled values (scope `start_forms`), or calls back the
//! robot's server (an outgoing robot with scope `receive`). A member's
//! click on a callback button enqueues a `robot.outgoing` job, which POSTs
//! the signed callback; a message in the robot's answer is posted to the
//! group (see `outgoing::deliver`).

use std::collections::BTreeMap;

use serde::Deserialize;
use tram_chat::cards::{self, ButtonAction, Card, CardButton};
use tram_chat::conversations::Participant;
use tram_chat::error::ChatError;
use tram_chat::messages::{self, Message, MessageKind, NewMessage, RobotAuthor};
use tram_platform::AppState;

use crate::error::{BotError, BotResult};
use crate::outgoing::{self, settings};
use crate::robots;
use crate::scopes::Scope;

/// Most buttons the composer takes.
pub const MAX_COMPOSED_BUTTONS: usize = 6;

/// One button as the composer sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ButtonSpec {
    pub label: String,
    /// `url`, `page` or `callback`.
    pub kind: String,
    /// `url`: the http(s) address; `page`: the path beginning with `/`.
    #[serde(default)]
    pub target: String,
    /// `page`: prefilled values, `key=value` one per line.
    #[serde(default)]
    pub values: String,
    /// `callback`: the value sent to the robot (default: the label).
    #[serde(default)]
    pub value: String,
}

/// A card to send as a robot. Buttons come as a list (JSON) or as the
/// flat fields of the panel's form (`b0_label`, `b0_kind`, `b0_target`,
/// `b0_values`, `b0_value`, `b1_…`); rows without a label are skipped.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ComposedCard {
    pub robot_id: String,
    pub title: String,
    /// Markdown.
    #[serde(default)]
    pub text: String,
    #[serde(default, deserialize_with = "crate::robots::flexible_bool")]
    pub horizontal: bool,
    #[serde(default)]
    pub buttons: Vec<ButtonSpec>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl ComposedCard {
    fn all_buttons(&self) -> Vec<ButtonSpec> {
        let mut out: Vec<ButtonSpec> = self.buttons.clone();
        let field = |i: usize, name: &str| {
            self.fields
                .get(&format!("b{i}_{name}"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        for i in 0..MAX_COMPOSED_BUTTONS {
            let label = field(i, "label");
            if label.trim().is_empty() {
                continue;
            }
            out.push(ButtonSpec {
                label,
                kind: field(i, "kind"),
                target: field(i, "target"),
                values: field(i, "values"),
                value: field(i, "value"),
            });
        }
        out
    }
}

/// `key=value` lines; a line without `=` or without a key is refused.
fn values_of(text: &str) -> Option<Vec<(String, String)>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (k, v) = line.split_once('=')?;
            (!k.trim().is_empty()).then(|| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Sends a composed card as the robot (group admins). Bad buttons are
/// refused with the button's number, and nothing is sent.
pub async fn send_card(
    state: &AppState,
    actor: &Participant,
    composed: &ComposedCard,
) -> BotResult<Message> {
    actor.require_admin()?;
    let robot = robots::get(&state.db, &actor.conversation_id, &composed.robot_id).await?;
    let stored = robots::by_id(&state.db, &robot.id)
        .await?
        .ok_or(BotError::NotFound)?;
    if !robot.enabled || !stored.may(Scope::Post) {
        return Err(BotError::CannotPost);
    }
    let specs = composed.all_buttons();
    if specs.is_empty() || specs.len() > MAX_COMPOSED_BUTTONS {
        return Err(BotError::InvalidButton(0));
    }
    let has_outgoing = settings::stored(&state.db, &robot.id).await?.is_some();
    let mut buttons = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let n = i + 1;
        let bad = || BotError::InvalidButton(n);
        let label = spec.label.trim().to_string();
        let button = match spec.kind.trim() {
            "url" | "" => CardButton {
                title: label,
                url: cards::safe_link(&spec.target).ok_or_else(bad)?,
                action: ButtonAction::Url,
            },
            "page" => {
                if !stored.may(Scope::StartForms) {
                    return Err(BotError::ButtonNeedsScope(n, "start_forms"));
                }
                let values = values_of(&spec.values).ok_or_else(bad)?;
                CardButton {
                    title: label,
                    url: cards::page_with_values(&spec.target, &values).ok_or_else(bad)?,
                    action: ButtonAction::Page,
                }
            }
            "callback" => {
                if !has_outgoing || !stored.may(Scope::Receive) {
                    return Err(BotError::ButtonNeedsScope(n, "receive"));
                }
                let value = match spec.value.trim() {
                    "" => label.clone(),
                    v => v.to_string(),
                };
                CardButton {
                    title: label,
                    url: String::new(),
                    action: ButtonAction::Callback { value },
                }
            }
            _ => return Err(bad()),
        };
        buttons.push(button);
    }
    let card = Card::Action {
        title: composed.title.clone(),
        text: composed.text.clone(),
        buttons,
        horizontal: composed.horizontal,
    }
    .checked()
    .map_err(|e| match e {
        ChatError::UnsafeLink => BotError::InvalidButton(0),
        other => BotError::Chat(other),
    })?;
    let author = RobotAuthor {
        conversation_id: robot.conversation_id.clone(),
        robot_id: robot.id.clone(),
        name: robot.name.clone(),
        avatar_url: robot.avatar_url.clone(),
    };
    let new = NewMessage {
        kind: MessageKind::Card,
        body: card.summary(),
        mentions: Vec::new(),
        mention_all: false,
        robot_mentions: Vec::new(),
        reply_to: None,
        client_id: None,
    };
    let message = messages::send_as_robot(state, &author, new, Some(card)).await?;
    tram_chat::live::announce_message(state, &message).await;
    Ok(message)
}

/// A member clicked callback button `index` of a robot's card: the robot's
/// server is told (through a retried job). Other buttons, other groups'
/// messages and robots without `receive` are refused.
pub async fn click(
    state: &AppState,
    member: &Participant,
    message_id: &str,
    index: usize,
) -> BotResult<()> {
    let message = messages::get(&state.db, &member.conversation_id, message_id).await?;
    let robot_id = message.robot_id.clone().ok_or(BotError::NotAButton)?;
    let value = match &message.card {
        Some(Card::Action { buttons, .. }) if !message.recalled => match buttons.get(index) {
            Some(CardButton {
                action: ButtonAction::Callback { value },
                ..
            }) => value.clone(),
            _ => return Err(BotError::NotAButton),
        },
        _ => return Err(BotError::NotAButton),
    };
    let robot = robots::by_id(&state.db, &robot_id)
        .await?
        .filter(|r| r.enabled && r.conversation_id == member.conversation_id)
        .ok_or(BotError::NotFound)?;
    if !robot.may(Scope::Receive) || settings::stored(&state.db, &robot.id).await?.is_none() {
        return Err(BotError::NotAButton);
    }
    outgoing::deliver::enqueue_click(state, &robot, &message, index, &value, &member.user_id)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilled_values_are_key_value_lines() {
        assert_eq!(
            values_of("destination = 東京\n\ndays=3").unwrap(),
            vec![
                ("destination".to_string(), "東京".to_string()),
                ("days".to_string(), "3".to_string())
            ]
        );
        assert!(values_of("no equals sign").is_none());
        assert!(values_of("=value").is_none());
        assert_eq!(values_of("").unwrap(), Vec::new());
    }
}
