//! Message Markdown rendered to safe HTML: CommonMark with tables and
//! strikethrough; raw HTML is shown as text (never interpreted); links go
//! only to http, https and mailto; images in Markdown show as their alt
//! text (pictures are sent as attachments). Nothing typed can run script.
//!
//! Robots write DingTalk's Markdown subset, which differs in three ways
//! ([`render_robot`]): pictures (`![](https://…)`) are shown, links may
//! come wrapped in `dingtalk://dingtalkclient/page/link?url=…` (unwrapped
//! to the http(s) address inside), and the `<br>` and `<font color=…>`
//! tags that DingTalk templates use become a line break and a colour.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::cards::{safe_link, safe_picture};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
}

fn options() -> Options {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options
}

pub fn render(source: &str) -> String {
    let events = Parser::new_ext(source, options()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Some(Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        })),
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// A colour a `<font color=…>` tag may set: `#rgb`, `#rrggbb` or a plain
/// colour name (letters only), so nothing but a colour reaches the style.
fn font_colour(tag: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let rest = lower
        .split("color")
        .nth(1)?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let value: String = rest
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
        .collect();
    let hex = value.strip_prefix('#');
    let ok = match hex {
        Some(h) => (h.len() == 3 || h.len() == 6) && h.chars().all(|c| c.is_ascii_hexdigit()),
        None => {
            !value.is_empty() && value.len() <= 20 && value.chars().all(|c| c.is_ascii_alphabetic())
        }
    };
    ok.then_some(value)
}

/// The few inline tags of DingTalk Markdown, as safe HTML; `None` for any
/// other markup (shown as text).
fn robot_tag(raw: &str) -> Option<String> {
    let tag = raw.trim().to_ascii_lowercase();
    let name: String = tag
        .trim_start_matches('<')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
        .collect();
    match name.as_str() {
        "br" | "br/" => Some("<br>".into()),
        "font" => Some(match font_colour(raw) {
            Some(colour) => format!("<span style=\"color:{colour}\">"),
            None => "<span>".into(),
        }),
        "/font" => Some("</span>".into()),
        _ => None,
    }
}

/// Markdown from a robot (DingTalk's subset; see the module notes).
pub fn render_robot(source: &str) -> String {
    let mut open_fonts = 0usize;
    let mut events: Vec<Event> = Vec::new();
    let mut in_image = false;
    for event in Parser::new_ext(source, options()) {
        match event {
            Event::InlineHtml(raw) => match robot_tag(&raw) {
                // Only balanced spans: a stray closing tag is dropped, an
                // unclosed one is closed at the end.
                Some(html) if html == "</span>" => {
                    if open_fonts > 0 {
                        open_fonts -= 1;
                        events.push(Event::InlineHtml(CowStr::from(html)));
                    }
                }
                Some(html) => {
                    if html.starts_with("<span") {
                        open_fonts += 1;
                    }
                    events.push(Event::InlineHtml(CowStr::from(html)));
                }
                None => events.push(Event::Text(raw)),
            },
            Event::Html(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => match safe_picture(&dest_url) {
                Some(src) => events.push(Event::Start(Tag::Image {
                    link_type,
                    dest_url: CowStr::from(src),
                    title,
                    id,
                })),
                None => in_image = true,
            },
            Event::End(TagEnd::Image) if in_image => in_image = false,
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest = safe_link(&dest_url)
                    .or_else(|| {
                        dest_url
                            .trim()
                            .to_ascii_lowercase()
                            .starts_with("mailto:")
                            .then(|| dest_url.trim().to_string())
                    })
                    .unwrap_or_else(|| "#".into());
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url: CowStr::from(dest),
                    title,
                    id,
                }));
            }
            Event::End(TagEnd::Paragraph) => {
                // A <font> left open must not swallow the rest of the page.
                for _ in 0..open_fonts {
                    events.push(Event::InlineHtml(CowStr::Borrowed("</span>")));
                }
                open_fonts = 0;
                events.push(Event::End(TagEnd::Paragraph));
            }
            other => events.push(other),
        }
    }
    for _ in 0..open_fonts {
        events.push(Event::InlineHtml(CowStr::Borrowed("</span>")));
    }
    let mut out = String::new();
    html::push_html(&mut out, events.into_iter());
    out
}

#[cfg(test)]
mod tests {
    use super::{render, render_robot};

    #[test]
    fn formats_markdown() {
        assert_eq!(
            render("**昨日**現金流"),
            "<p><strong>昨日</strong>現金流</p>\n"
        );
        assert!(render("- a\n- b").contains("<li>a</li>"));
        assert!(render("[報表](https://example.com/r)").contains("href=\"https://example.com/r\""));
    }

    #[test]
    fn no_script_gets_through() {
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
        ] {
            let html = render(attack);
            assert!(!html.contains("<script"), "{attack} → {html}");
            assert!(!html.contains("<img"), "{attack} → {html}");
            assert!(
                !html.to_lowercase().contains("<a href=\"javascript"),
                "{attack} → {html}"
            );
            assert!(!html.contains("<a href=\"data:"), "{attack} → {html}");
        }
        assert!(render("<b>hi</b>").contains("&lt;b&gt;hi&lt;/b&gt;"));
    }

    #[test]
    fn robot_markdown_shows_pictures_and_unwraps_dingtalk_links() {
        let html = render_robot("#### 杭州天氣\n> 9度 ![screenshot](https://img.example.com/a.png)\n> ###### 10點發布 [天氣](dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fwww.example.com%2Fw&pc_slide=false)");
        assert!(html.contains("<h4>杭州天氣</h4>"), "{html}");
        assert!(
            html.contains("<img src=\"https://img.example.com/a.png\" alt=\"screenshot\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"https://www.example.com/w\""),
            "{html}"
        );
        let coloured = render_robot("<font color=#FF0000>告警</font>：CPU<br>第二行");
        assert_eq!(
            coloured,
            "<p><span style=\"color:#ff0000\">告警</span>：CPU<br>第二行</p>\n"
        );
    }

    #[test]
    fn robot_markdown_lets_no_script_through() {
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "![x](javascript:alert(1))",
            "[x](javascript:alert(1))",
            "[x](dingtalk://dingtalkclient/page/link?url=javascript%3Aalert(1))",
            "<font color=\"red\" onmouseover=\"alert(1)\">x</font>",
            "<font color=\"red;background:url(javascript:alert(1))\">x</font>",
            "<font color=expression(alert(1))>x</font>",
            "</font></p><script>alert(1)</script>",
            "<a href=\"javascript:alert(1)\">x</a>",
        ] {
            let html = render_robot(attack);
            assert!(!html.contains("<script"), "{attack} → {html}");
            assert!(!html.contains("<img src=\"x\""), "{attack} → {html}");
            assert!(!html.contains("<img src=\"javascript"), "{attack} → {html}");
            assert!(!html.contains("<a href=\"javascript"), "{attack} → {html}");
            assert!(!html.contains("<a href=\"dingtalk"), "{attack} → {html}");
            assert!(!html.contains("onmouseover=\""), "{attack} → {html}");
            assert!(!html.contains("url("), "{attack} → {html}");
            assert!(!html.contains("expression("), "{attack} → {html}");
            assert_eq!(
                html.matches("<span").count(),
                html.matches("</span>").count(),
                "{attack} → {html}"
            );
        }
    }
}
