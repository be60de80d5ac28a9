//! A message as the SMTP sink received it, and just enough MIME to read it
//! back: unfolded headers, RFC 2047 encoded words, quoted-printable and
//! base64 bodies, the first text/plain part of a multipart message. Mail
//! libraries encode UTF-8 (Traditional Chinese subjects and bodies) this way,
//! so a test must decode before it can look for a code.

use base64::Engine;

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`), without the angle brackets.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), in order.
    pub recipients: Vec<String>,
    /// The message as transmitted after `DATA`, dot-unstuffed, without the
    /// final `.` line.
    pub data: Vec<u8>,
    /// The user name given with `AUTH`, when the client logged in.
    pub authenticated_as: Option<String>,
}

impl ReceivedMail {
    /// The raw message text (headers and encoded body).
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header called `name` (any case), unfolded, with encoded
    /// words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        header_value(&headers, name).map(|v| decode_words(&v))
    }

    /// The decoded `Subject`, or an empty string.
    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded text: the body itself, or the first `text/plain` part of
    /// a multipart message. Charsets other than UTF-8 are read as UTF-8.
    pub fn text_body(&self) -> String {
        entity_text(&self.data)
    }

    /// The first run of exactly six digits in the text body (a verification
    /// code), if any.
    pub fn code(&self) -> Option<String> {
        crate::find_code(&self.text_body())
    }
}

/// Headers (unfolded `(name, raw value)` pairs) and body of a MIME entity.
fn split_entity(data: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let (head, body) = match find(data, b"\r\n\r\n") {
        Some(at) => (&data[..at], &data[at + 4..]),
        None => match find(data, b"\n\n") {
            Some(at) => (&data[..at], &data[at + 2..]),
            None => (data, &data[data.len()..]),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim_start());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    (headers, body)
}

fn header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn entity_text(data: &[u8]) -> String {
    let (headers, body) = split_entity(data);
    let content_type = header_value(&headers, "Content-Type").unwrap_or_default();
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        if let Some(boundary) = parameter(&content_type, "boundary") {
            let parts = multipart_parts(body, &boundary);
            let text_part = parts.iter().find(|part| {
                let (headers, _) = split_entity(part);
                header_value(&headers, "Content-Type")
                    .unwrap_or_else(|| "text/plain".into())
                    .to_ascii_lowercase()
                    .starts_with("text/plain")
            });
            if let Some(part) = text_part.or(parts.first()) {
                return entity_text(part);
            }
        }
    }
    let encoding = header_value(&headers, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_else(|_| body.to_vec())
        }
        _ => body.to_vec(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A `name=value` parameter of a structured header such as Content-Type.
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive(|b| *b == b'\n') {
        let trimmed = line.trim_ascii_end();
        if trimmed.starts_with(delimiter.as_bytes()) {
            if let Some(start) = current {
                // The line break before a delimiter belongs to the delimiter.
                let mut end = offset;
                if body[..end].ends_with(b"\r\n") {
                    end -= 2;
                } else if body[..end].ends_with(b"\n") {
                    end -= 1;
                }
                parts.push(&body[start..end.max(start)]);
            }
            if trimmed.ends_with(b"--") && trimmed.len() == delimiter.len() + 2 {
                break;
            }
            current = Some(offset + line.len());
        }
        offset += line.len();
    }
    parts
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line
/// breaks; anything malformed is kept as it came.
fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'=' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = hex_pair(rest) {
            out.push(byte);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

fn hex_pair(bytes: &[u8]) -> Option<u8> {
    let high = (*bytes.first()? as char).to_digit(16)?;
    let low = (*bytes.get(1)? as char).to_digit(16)?;
    Some((high * 16 + low) as u8)
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?UTF-8?Q?…?=`) in a
/// header value. The bytes of adjacent words are joined before they are
/// read as UTF-8, because encoders may split one character across words.
pub(crate) fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match encoded_word(candidate) {
            Some((bytes, used)) => {
                // Whitespace between two encoded words is not part of the text.
                if pending.is_empty() || !before.trim().is_empty() {
                    flush(&mut out, &mut pending);
                    out.push_str(before);
                }
                pending.extend(bytes);
                rest = &candidate[used..];
            }
            None => {
                flush(&mut out, &mut pending);
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
            }
        }
    }
    flush(&mut out, &mut pending);
    out.push_str(rest);
    out
}

fn flush(out: &mut String, pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        out.push_str(&String::from_utf8_lossy(pending));
        pending.clear();
    }
}

/// One `=?charset?encoding?text?=` word at the start of `input`: its bytes
/// and how many characters of `input` it spans.
fn encoded_word(input: &str) -> Option<(Vec<u8>, usize)> {
    let inner = input.strip_prefix("=?")?;
    let (_charset, rest) = inner.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if text.contains([' ', '\t']) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "Q" | "q" => {
            let underscores_as_spaces: Vec<u8> = text
                .bytes()
                .map(|b| if b == b'_' { b' ' } else { b })
                .collect();
            decode_quoted_printable(&underscores_as_spaces)
        }
        _ => return None,
    };
    let used = input.len() - rest.len() + end + 2;
    Some((bytes, used))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(data: &str) -> ReceivedMail {
        ReceivedMail {
            from: "a@example.com".into(),
            recipients: vec!["b@example.com".into()],
            data: data.as_bytes().to_vec(),
            authenticated_as: None,
        }
    }

    #[test]
    fn reads_base64_words_split_inside_a_character() {
        // "登入驗證碼" split after the first byte of 驗 (bytes 6..9).
        let bytes = "登入驗證碼".as_bytes();
        let a = base64::engine::general_purpose::STANDARD.encode(&bytes[..7]);
        let b = base64::engine::general_purpose::STANDARD.encode(&bytes[7..]);
        let value = format!("=?utf-8?b?{a}?=\r\n =?utf-8?b?{b}?=");
        let m = mail(&format!("Subject: {value}\r\n\r\nbody"));
        assert_eq!(m.subject(), "登入驗證碼");
    }

    #[test]
    fn reads_q_words_and_keeps_plain_text_around_them() {
        assert_eq!(
            decode_words("Re: =?UTF-8?Q?=E6=B8=AC=E8=A9=A6_ok?= done"),
            "Re: 測試 ok done"
        );
        assert_eq!(decode_words("no words =? here"), "no words =? here");
    }

    #[test]
    fn decodes_quoted_printable_bodies_and_finds_the_code() {
        let body = "=E4=BD=A0=E7=9A=84=E9=A9=97=E8=AD=89=E7=A2=BC=E6=98=AF 123456=E3=80=82=\r\n=E5=8D=81=E5=88=86=E9=90=98=E5=85=A7=E6=9C=89=E6=95=88=E3=80=82";
        let m = mail(&format!(
            "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{body}"
        ));
        assert_eq!(m.text_body(), "你的驗證碼是 123456。十分鐘內有效。");
        assert_eq!(m.code().as_deref(), Some("123456"));
    }

    #[test]
    fn decodes_base64_bodies() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("驗證碼 654321".as_bytes());
        let m = mail(&format!(
            "Content-Transfer-Encoding: base64\r\n\r\n{}\r\n{}\r\n",
            &encoded[..8],
            &encoded[8..]
        ));
        assert_eq!(m.text_body(), "驗證碼 654321");
        assert_eq!(m.code().as_deref(), Some("654321"));
    }

    #[test]
    fn picks_the_text_part_of_a_multipart_message() {
        let m = mail(concat!(
            "Content-Type: multipart/alternative; boundary=\"XYZ\"\r\n\r\n",
            "--XYZ\r\nContent-Type: text/html\r\n\r\n<p>111111</p>\r\n",
            "--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n碼 222222\r\n",
            "--XYZ--\r\n"
        ));
        assert_eq!(m.text_body(), "碼 222222");
    }

    #[test]
    fn a_code_is_exactly_six_digits() {
        assert_eq!(
            crate::find_code("order 1234567 code 765432."),
            Some("765432".into())
        );
        assert_eq!(crate::find_code("12345 and 1234567"), None);
    }
}
