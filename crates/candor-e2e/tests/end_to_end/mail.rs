//! Reading the emails the SMTP sink received the way a member would: MIME
//! decoded (quoted-printable, base64), text and HTML.

use candor_testkit::smtp::ReceivedMessage;
use mail_parser::MessageParser;

/// A received email, decoded.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: String,
}

pub fn decode(message: &ReceivedMessage) -> Email {
    let parsed = MessageParser::default()
        .parse(&message.data)
        .expect("the sink received a parseable RFC 5322 message");
    let raw = String::from_utf8_lossy(&message.data);
    Email {
        to: message
            .to
            .iter()
            .map(|to| to.to_ascii_lowercase())
            .collect(),
        subject: parsed.subject().unwrap_or_default().to_owned(),
        text: parsed
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default(),
        html: parsed
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default(),
        headers: raw.split("\r\n\r\n").next().unwrap_or_default().to_owned(),
    }
}

/// Every link in `text` that starts with `base`.
pub fn links(text: &str, base: &str) -> Vec<String> {
    text.match_indices(base)
        .map(|(start, _)| {
            text[start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>' | ')' | ']'))
                .collect()
        })
        .collect()
}

/// The token of the first link under `base` whose path mentions `word`:
/// its `token=` query value, or else its last path segment.
pub fn token_in_link(text: &str, base: &str, word: &str) -> Option<String> {
    let link = links(text, base)
        .into_iter()
        .find(|link| link.to_ascii_lowercase().contains(word))?;
    let token = match link.split_once("token=") {
        Some((_, query)) => query.split('&').next().unwrap_or_default().to_owned(),
        None => link
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    (!token.is_empty()).then_some(token)
}
