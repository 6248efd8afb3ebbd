//! A breach notice rendered once per incident (and thread link) with the
//! member's parts left as slots. Formatting one member's message is then
//! a substitution plus quoted-printable on the two lines that hold a slot,
//! instead of two template renders and encoding the whole body: the notice
//! is the same for 100,000 members except for the greeting and the address.
//!
//! The slots are filled with exactly what the templates would print (the
//! HTML part escaped like the template formatter does), so the decoded
//! parts equal a full render; `tests.rs` checks that.

use anyhow::Context as _;
use lettre::address::{Address, Envelope};
use lettre::message::header::{
    ContentType, Date, From, HeaderName, HeaderValue, Headers, MIME_VERSION_1_0, MessageId,
    ReplyTo, Subject, To,
};
use lettre::message::{Mailbox, Mailboxes};

use super::{AUTO_GENERATED, RenderError, escape_html, greeting};

/// The member-specific values a rendered line may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Greeting,
    Address,
}

#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Slot(Slot),
}

/// One line of a part: encoded once, or encoded per member.
#[derive(Debug, Clone)]
enum Line {
    Encoded(String),
    Slotted(Vec<Piece>),
}

/// One body part (text or HTML) split into lines.
#[derive(Debug, Clone)]
struct Part {
    lines: Vec<Line>,
    html: bool,
}

/// The markers a template render is given in place of the member's values.
pub(super) struct Markers {
    pub greeting: String,
    pub address: String,
}

impl Markers {
    /// Markers no incident text will contain (a fresh nonce each time).
    pub fn new() -> Self {
        let nonce = uuid::Uuid::new_v4().simple();
        Self {
            greeting: format!("\u{1}{nonce}:greeting\u{1}"),
            address: format!("\u{1}{nonce}:address\u{1}"),
        }
    }
}

/// A breach notice ready to be formatted for any member.
#[derive(Debug, Clone)]
pub struct PreparedNotice {
    from: Mailbox,
    /// From, Reply-To, Subject, Auto-Submitted, MIME-Version, Content-Type.
    fixed_headers: String,
    boundary: String,
    text: Part,
    html: Part,
}

impl PreparedNotice {
    pub(super) fn new(
        from: Mailbox,
        reply_to: Option<Mailbox>,
        subject: &str,
        markers: &Markers,
        text: &str,
        html: &str,
    ) -> Result<Self, RenderError> {
        let boundary = format!("candor-{}", uuid::Uuid::new_v4().simple());
        let mut headers = Headers::new();
        headers.set(From::from(Mailboxes::from(from.clone())));
        if let Some(reply_to) = reply_to {
            headers.set(ReplyTo::from(Mailboxes::from(reply_to)));
        }
        headers.set(Subject::from(subject.to_owned()));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            AUTO_GENERATED.to_owned(),
        ));
        headers.set(MIME_VERSION_1_0);
        headers.set(
            ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary}\""))
                .context("the multipart content type")?,
        );
        Ok(Self {
            from,
            fixed_headers: headers.to_string(),
            boundary,
            text: Part::split(text, markers, false),
            html: Part::split(html, markers, true),
        })
    }

    /// The envelope and formatted message (RFC 5322, CRLF line ends) for
    /// one member.
    pub fn format(
        &self,
        display_name: &str,
        to_address: &str,
        message_id: &str,
    ) -> Result<(Envelope, Vec<u8>), RenderError> {
        let address: Address = to_address
            .parse()
            .map_err(|_| RenderError::InvalidAddress(to_address.to_owned()))?;
        let envelope = Envelope::new(Some(self.from.email.clone()), vec![address.clone()])
            .context("building the envelope")?;
        let name = Some(display_name.to_owned()).filter(|name| !name.is_empty());
        let mut headers = Headers::with_capacity(3);
        headers.set(Date::now());
        headers.set(To::from(Mailboxes::from(Mailbox::new(name, address))));
        headers.set(MessageId::from(message_id.to_owned()));

        let greeting = greeting(display_name);
        let values = Values {
            greeting: &greeting,
            address: to_address,
        };
        let mut message = String::with_capacity(8 * 1024);
        message.push_str(&headers.to_string());
        message.push_str(&self.fixed_headers);
        message.push_str("\r\n");
        for part in [&self.text, &self.html] {
            message.push_str("--");
            message.push_str(&self.boundary);
            message.push_str("\r\n");
            part.write(&mut message, &values);
        }
        message.push_str("--");
        message.push_str(&self.boundary);
        message.push_str("--\r\n");
        Ok((envelope, message.into_bytes()))
    }
}

struct Values<'a> {
    greeting: &'a str,
    address: &'a str,
}

impl Part {
    fn split(rendered: &str, markers: &Markers, html: bool) -> Self {
        let lines = rendered
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .map(|line| {
                let pieces = pieces(line, markers);
                if pieces.iter().any(|piece| matches!(piece, Piece::Slot(_))) {
                    Line::Slotted(pieces)
                } else {
                    Line::Encoded(quoted_printable::encode_to_str(line))
                }
            })
            .collect();
        Self { lines, html }
    }

    fn write(&self, out: &mut String, values: &Values<'_>) {
        out.push_str(if self.html {
            "Content-Type: text/html; charset=utf-8\r\n"
        } else {
            "Content-Type: text/plain; charset=utf-8\r\n"
        });
        out.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        let mut raw = String::new();
        for (index, line) in self.lines.iter().enumerate() {
            if index > 0 {
                out.push_str("\r\n");
            }
            match line {
                Line::Encoded(encoded) => out.push_str(encoded),
                Line::Slotted(pieces) => {
                    raw.clear();
                    for piece in pieces {
                        match piece {
                            Piece::Literal(text) => raw.push_str(text),
                            Piece::Slot(slot) => {
                                let value = match slot {
                                    Slot::Greeting => values.greeting,
                                    Slot::Address => values.address,
                                };
                                if self.html {
                                    raw.push_str(&escape_html(value));
                                } else {
                                    raw.push_str(value);
                                }
                            }
                        }
                    }
                    out.push_str(&quoted_printable::encode_to_str(&raw));
                }
            }
        }
        out.push_str("\r\n");
    }
}

/// Splits a rendered line at the markers.
fn pieces(line: &str, markers: &Markers) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = line;
    loop {
        let next = [
            (
                rest.find(&markers.greeting),
                Slot::Greeting,
                &markers.greeting,
            ),
            (rest.find(&markers.address), Slot::Address, &markers.address),
        ]
        .into_iter()
        .filter_map(|(at, slot, marker)| at.map(|at| (at, slot, marker.len())))
        .min_by_key(|(at, _, _)| *at);
        let Some((at, slot, length)) = next else {
            break;
        };
        if at > 0 {
            pieces.push(Piece::Literal(rest[..at].to_owned()));
        }
        pieces.push(Piece::Slot(slot));
        rest = &rest[at + length..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    pieces
}
