//! DingTalk's custom-robot wire format: the JSON a client POSTs to
//! `/robot/send` for each `msgtype` (text, link, markdown, actionCard with
//! one or several buttons, feedCard, image) with its `at` block, and the
//! `{"errcode":…,"errmsg":…}` answers, with DingTalk's codes.
//!
//! Codes as DingTalk's servers answer them and as widely used clients
//! expect them (docs/robots.md lists the sources): success 0 "ok";
//! missing parameter 40035 "缺少参数 …" (an unusable one: 40035
//! "不合法的参数 …"); not POST 43002; unknown token
//! 300005 "token is not exist"; every security check 310000 with its own
//! message ("sign not match", "invalid timestamp", "keywords not in
//! content", "ip … not in whitelist"); too fast 130101; robot stopped
//! 400102; group dissolved 400013; unsupported msgtype 400105; unsafe
//! link 430101; a session webhook unknown or expired 300001
//! "session 不存在"; outside the robot's scopes 60011 "没有调用该接口的权限"
//! (DingTalk's sub-code for a missing API permission); our own failure -1
//! "系统繁忙".

use serde_json::Value;
use tram_chat::cards::{ButtonAction, Card, CardButton, FeedItem};
use tram_chat::messages::MessageKind;

/// A refused call: DingTalk's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `access_token` (or another parameter) missing, or a body that is
    /// not JSON.
    MissingParam(String),
    /// A parameter present but unusable (too long, too many buttons).
    InvalidParam(String),
    NotPost,
    UnknownToken,
    RobotStopped,
    SignMismatch,
    InvalidTimestamp,
    KeywordMissing,
    IpNotAllowed(String),
    TooFast(i64),
    GroupDissolved,
    UnsupportedType,
    UnsafeLink,
    /// A session webhook that does not exist or has expired.
    SessionExpired,
    /// The robot's scopes do not allow this.
    NoPermission,
    /// Something went wrong on our side.
    Busy,
}

impl Refusal {
    pub fn errcode(&self) -> i64 {
        match self {
            Refusal::MissingParam(_) | Refusal::InvalidParam(_) => 40035,
            Refusal::NotPost => 43002,
            Refusal::UnknownToken => 300005,
            Refusal::SignMismatch
            | Refusal::InvalidTimestamp
            | Refusal::KeywordMissing
            | Refusal::IpNotAllowed(_) => 310000,
            Refusal::TooFast(_) => 130101,
            Refusal::RobotStopped => 400102,
            Refusal::GroupDissolved => 400013,
            Refusal::UnsupportedType => 400105,
            Refusal::UnsafeLink => 430101,
            Refusal::SessionExpired => 300001,
            Refusal::NoPermission => 60011,
            Refusal::Busy => -1,
        }
    }

    pub fn errmsg(&self) -> String {
        match self {
            Refusal::MissingParam(name) => format!("缺少参数 {name}"),
            Refusal::InvalidParam(name) => format!("不合法的参数 {name}"),
            Refusal::NotPost => "需要POST请求".into(),
            Refusal::UnknownToken => "token is not exist".into(),
            Refusal::RobotStopped => "机器人已停用".into(),
            Refusal::SignMismatch => "sign not match".into(),
            Refusal::InvalidTimestamp => "invalid timestamp".into(),
            Refusal::KeywordMissing => "keywords not in content".into(),
            Refusal::IpNotAllowed(ip) => format!("ip {ip} not in whitelist"),
            Refusal::TooFast(limit) => format!("send too fast, exceed {limit} times per minute"),
            Refusal::GroupDissolved => "群已被解散".into(),
            Refusal::UnsupportedType => "不支持的消息类型".into(),
            Refusal::UnsafeLink => "含有不安全的外链".into(),
            Refusal::SessionExpired => "session 不存在".into(),
            Refusal::NoPermission => "没有调用该接口的权限".into(),
            Refusal::Busy => "系统繁忙".into(),
        }
    }
}

/// Who a message @mentions, as the client named them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct At {
    /// Phone numbers as sent (local or international spelling).
    pub mobiles: Vec<String>,
    /// Tram user ids (`atUserIds`, and the older `atDingtalkIds`).
    pub user_ids: Vec<String>,
    pub all: bool,
}

/// A robot message read from the wire, ready for chat.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotPost {
    /// The `msgtype` as sent (for the call log).
    pub msgtype: String,
    pub kind: MessageKind,
    /// Text or Markdown; for a card, its words.
    pub body: String,
    pub card: Option<Card>,
    /// Every text of the message, where a keyword may appear.
    pub texts: Vec<String>,
    pub at: At,
}

/// The `msgtype` of a body, if it has one (for the log of refused calls).
pub fn msgtype_of(body: &Value) -> Option<String> {
    body.get("msgtype")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(32).collect())
}

fn object<'a>(body: &'a Value, name: &str) -> Result<&'a Value, Refusal> {
    body.get(name)
        .filter(|v| v.is_object())
        .ok_or_else(|| Refusal::MissingParam(name.into()))
}

/// A text field; numbers are taken as their digits (some clients send
/// them), anything else is missing.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(parent: &Value, parent_name: &str, field: &str) -> Result<String, Refusal> {
    text_of(parent.get(field))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Refusal::MissingParam(format!("{parent_name}.{field}")))
}

fn optional(parent: &Value, field: &str) -> Option<String> {
    text_of(parent.get(field)).filter(|s| !s.trim().is_empty())
}

fn list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| text_of(Some(v)))
            .filter(|s| !s.trim().is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true"),
        _ => false,
    }
}

fn at_of(body: &Value) -> At {
    let Some(at) = body.get("at").filter(|v| v.is_object()) else {
        return At::default();
    };
    let mut user_ids = list(at.get("atUserIds"));
    user_ids.extend(list(at.get("atDingtalkIds")));
    At {
        mobiles: list(at.get("atMobiles")),
        user_ids,
        all: flag(at.get("isAtAll")),
    }
}

/// Reads a POSTed body. `Err` carries the code to answer with.
pub fn parse(bytes: &[u8]) -> Result<RobotPost, Refusal> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|_| Refusal::MissingParam("json".into()))?;
    if !body.is_object() {
        return Err(Refusal::MissingParam("json".into()));
    }
    let msgtype = msgtype_of(&body).ok_or_else(|| Refusal::MissingParam("msgtype".into()))?;
    let at = at_of(&body);
    let post = |kind, body: String, card: Option<Card>, texts: Vec<String>| RobotPost {
        msgtype: msgtype.clone(),
        kind,
        body,
        card,
        texts,
        at: at.clone(),
    };
    match msgtype.as_str() {
        "text" => {
            let text = object(&body, "text")?;
            let content = required(text, "text", "content")?;
            Ok(post(
                MessageKind::Text,
                content.clone(),
                None,
                vec![content],
            ))
        }
        "markdown" => {
            let markdown = object(&body, "markdown")?;
            let title = required(markdown, "markdown", "title")?;
            let text = required(markdown, "markdown", "text")?;
            Ok(post(
                MessageKind::Markdown,
                text.clone(),
                None,
                vec![title, text],
            ))
        }
        "link" => {
            let link = object(&body, "link")?;
            let title = required(link, "link", "title")?;
            let text = required(link, "link", "text")?;
            let url = required(link, "link", "messageUrl")?;
            let picture = optional(link, "picUrl");
            let card = Card::Link {
                title: title.clone(),
                text: text.clone(),
                url,
                picture,
            };
            Ok(post(
                MessageKind::Card,
                card.summary(),
                Some(card),
                vec![title, text],
            ))
        }
        "actionCard" => {
            let action = object(&body, "actionCard")?;
            let title = required(action, "actionCard", "title")?;
            let text = required(action, "actionCard", "text")?;
            // Single button ("整體跳轉") or several ("獨立跳轉").
            let buttons = match (
                optional(action, "singleTitle"),
                optional(action, "singleURL"),
            ) {
                (Some(title), Some(url)) => vec![CardButton {
                    title,
                    url,
                    action: ButtonAction::Url,
                }],
                _ => match action.get("btns") {
                    Some(Value::Array(btns)) if !btns.is_empty() => btns
                        .iter()
                        .map(|b| {
                            Ok(CardButton {
                                title: required(b, "actionCard.btns", "title")?,
                                url: required(b, "actionCard.btns", "actionURL")?,
                                action: ButtonAction::Url,
                            })
                        })
                        .collect::<Result<Vec<_>, Refusal>>()?,
                    _ => return Err(Refusal::MissingParam("actionCard.singleURL".into())),
                },
            };
            let horizontal = flag(action.get("btnOrientation"));
            let mut texts = vec![title.clone(), text.clone()];
            texts.extend(buttons.iter().map(|b| b.title.clone()));
            let card = Card::Action {
                title,
                text,
                buttons,
                horizontal,
            };
            Ok(post(MessageKind::Card, card.summary(), Some(card), texts))
        }
        "feedCard" => {
            let feed = object(&body, "feedCard")?;
            let items = match feed.get("links") {
                Some(Value::Array(links)) if !links.is_empty() => links
                    .iter()
                    .map(|l| {
                        Ok(FeedItem {
                            title: required(l, "feedCard.links", "title")?,
                            url: required(l, "feedCard.links", "messageURL")?,
                            picture: optional(l, "picURL"),
                        })
                    })
                    .collect::<Result<Vec<_>, Refusal>>()?,
                _ => return Err(Refusal::MissingParam("feedCard.links".into())),
            };
            let texts = items.iter().map(|i| i.title.clone()).collect();
            let card = Card::Feed { items };
            Ok(post(MessageKind::Card, card.summary(), Some(card), texts))
        }
        "image" => {
            // Not in DingTalk's list for custom robots, but sent by common
            // clients (DingtalkChatbot.send_image): a picture alone.
            let image = object(&body, "image")?;
            let url = required(image, "image", "picURL")?;
            let picture = tram_chat::cards::safe_picture(&url).ok_or(Refusal::UnsafeLink)?;
            Ok(post(
                MessageKind::Markdown,
                format!("![]({picture})"),
                None,
                Vec::new(),
            ))
        }
        _ => Err(Refusal::UnsupportedType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(value: Value) -> Result<RobotPost, Refusal> {
        parse(value.to_string().as_bytes())
    }

    #[test]
    fn text_with_mentions() {
        let post = parse_json(serde_json::json!({
            "msgtype": "text",
            "text": { "content": "我就是我, @85291234567 是不一樣的煙火" },
            "at": { "atMobiles": ["85291234567", 13800000000u64], "atUserIds": ["u1"], "isAtAll": false }
        }))
        .unwrap();
        assert_eq!(post.kind, MessageKind::Text);
        assert_eq!(post.body, "我就是我, @85291234567 是不一樣的煙火");
        assert_eq!(
            post.at,
            At {
                mobiles: vec!["85291234567".into(), "13800000000".into()],
                user_ids: vec!["u1".into()],
                all: false
            }
        );
        let all = parse_json(serde_json::json!({ "msgtype": "text", "text": { "content": "x" }, "at": { "isAtAll": "true" } })).unwrap();
        assert!(all.at.all);
    }

    #[test]
    fn every_card_type() {
        let link = parse_json(serde_json::json!({ "msgtype": "link", "link": {
            "title": "時代的火車向前開", "text": "這個即將發布的新版本", "picUrl": "", "messageUrl": "https://www.dingtalk.com/s?__biz=MzA4NjMwMTA2Ng==" } }))
        .unwrap();
        assert!(matches!(&link.card, Some(Card::Link { picture: None, .. })));
        assert_eq!(link.kind, MessageKind::Card);
        let single = parse_json(serde_json::json!({ "msgtype": "actionCard", "actionCard": {
            "title": "喬布斯", "text": "![screenshot](https://img.example.com/a.png) ### 喬布斯 20 年前想打造的蘋果咖啡廳",
            "btnOrientation": "0", "singleTitle": "閱讀全文", "singleURL": "https://www.dingtalk.com/" } }))
        .unwrap();
        match &single.card {
            Some(Card::Action {
                buttons,
                horizontal,
                ..
            }) => {
                assert_eq!(buttons.len(), 1);
                assert!(!horizontal);
            }
            other => panic!("{other:?}"),
        }
        let multi = parse_json(serde_json::json!({ "msgtype": "actionCard", "actionCard": {
            "title": "t", "text": "x", "btnOrientation": 1,
            "btns": [{ "title": "內容不錯", "actionURL": "https://a.example/" }, { "title": "不感興趣", "actionURL": "https://b.example/" }] } }))
        .unwrap();
        match &multi.card {
            Some(Card::Action {
                buttons,
                horizontal,
                ..
            }) => {
                assert_eq!(buttons.len(), 2);
                assert!(horizontal);
            }
            other => panic!("{other:?}"),
        }
        assert!(multi.texts.contains(&"不感興趣".to_string()));
        let feed = parse_json(serde_json::json!({ "msgtype": "feedCard", "feedCard": { "links": [
            { "title": "一", "messageURL": "https://a.example/1", "picURL": "https://a.example/1.png" },
            { "title": "二", "messageURL": "https://a.example/2", "picURL": "https://a.example/2.png" } ] } }))
        .unwrap();
        assert!(matches!(&feed.card, Some(Card::Feed { items }) if items.len() == 2));
        let markdown = parse_json(serde_json::json!({ "msgtype": "markdown", "markdown": { "title": "杭州天氣", "text": "#### 杭州天氣" } })).unwrap();
        assert_eq!(markdown.kind, MessageKind::Markdown);
        assert_eq!(
            markdown.texts,
            vec!["杭州天氣".to_string(), "#### 杭州天氣".to_string()]
        );
    }

    #[test]
    fn refusals_carry_dingtalks_codes() {
        let code = |v: Value| parse_json(v).unwrap_err().errcode();
        assert_eq!(
            parse(b"not json").unwrap_err(),
            Refusal::MissingParam("json".into())
        );
        assert_eq!(
            code(serde_json::json!({ "text": { "content": "x" } })),
            40035
        );
        assert_eq!(code(serde_json::json!({ "msgtype": "text" })), 40035);
        assert_eq!(
            code(serde_json::json!({ "msgtype": "text", "text": { "content": "  " } })),
            40035
        );
        assert_eq!(
            code(
                serde_json::json!({ "msgtype": "actionCard", "actionCard": { "title": "t", "text": "x" } })
            ),
            40035
        );
        assert_eq!(
            code(serde_json::json!({ "msgtype": "voice", "voice": {} })),
            400105
        );
        assert_eq!(
            code(
                serde_json::json!({ "msgtype": "image", "image": { "picURL": "javascript:alert(1)" } })
            ),
            430101
        );
        assert_eq!(
            Refusal::IpNotAllowed("127.0.0.1".into()).errmsg(),
            "ip 127.0.0.1 not in whitelist"
        );
        assert_eq!(
            Refusal::TooFast(20).errmsg(),
            "send too fast, exceed 20 times per minute"
        );
    }
}
