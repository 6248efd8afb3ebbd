//! A breach notice rendered once per incident (and thread link) with the
//! member's parts left as slots. Formatting one member's message is then
//! a substitution plus quoted-printable on the two lines that hold a slot,
//! instead of two template renders and encoding the whole body: the notice
//! is the same for 100,000 members except for the greeting and the address.
//!
//! The slots are filled with exactly what the templates would print (the
//! HTML part escaped like the template formatter does), so the decoded
//! parts equal a full render; `tests.rs` checks that.

use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::Context as _;
use candor_platform::sync::lock;
use lettre::address::{Address, Envelope};
use lettre::message::header::{
    ContentType, Date, From, HeaderName, HeaderValue, Headers, MIME_VERSION_1_0, MessageId,
    ReplyTo, Subject, To,
};
use lettre::message::{Mailbox, Mailboxes};

use super::{AUTO_GENERATED, RenderError, check_header_text, escape_html, greeting};

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

/// A stretch of the formatted message after the member's own headers:
/// fixed text (headers, boundaries and every line without a slot, already
/// quoted-printable encoded and joined), or one line holding a slot, filled
/// in and encoded per member.
#[derive(Debug, Clone)]
enum Segment {
    Fixed(String),
    Slotted { pieces: Vec<Piece>, html: bool },
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
#[derive(Debug)]
pub struct PreparedNotice {
    from: Mailbox,
    /// Everything after Date, To and Message-ID: the fixed headers (From,
    /// Reply-To, Subject, Auto-Submitted, MIME-Version, Content-Type), then
    /// the text and HTML parts.
    segments: Vec<Segment>,
    /// The `Date` header line, formatted once per second.
    date: Mutex<DateLine>,
}

#[derive(Debug, Default)]
struct DateLine {
    second: u64,
    line: String,
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
        let mut segments = Segments::default();
        segments.fixed.push_str(&headers.to_string());
        segments.fixed.push_str("\r\n");
        for (rendered, html) in [(text, false), (html, true)] {
            segments.fixed.push_str("--");
            segments.fixed.push_str(&boundary);
            segments.fixed.push_str("\r\n");
            segments.push_part(rendered, markers, html);
        }
        segments.fixed.push_str("--");
        segments.fixed.push_str(&boundary);
        segments.fixed.push_str("--\r\n");
        Ok(Self {
            from,
            segments: segments.finish(),
            date: Mutex::new(DateLine::default()),
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
        check_header_text("display name", display_name)?;
        let name = Some(display_name.to_owned()).filter(|name| !name.is_empty());
        let mut headers = Headers::with_capacity(2);
        headers.set(To::from(Mailboxes::from(Mailbox::new(name, address))));
        headers.set(MessageId::from(message_id.to_owned()));

        let greeting = greeting(display_name);
        let values = Values {
            greeting: &greeting,
            address: to_address,
        };
        let mut message = String::with_capacity(8 * 1024);
        self.push_date(&mut message);
        message.push_str(&headers.to_string());
        let mut line = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Fixed(text) => message.push_str(text),
                Segment::Slotted { pieces, html } => {
                    line.clear();
                    fill(&mut line, pieces, &values, *html);
                    message.push_str(&quoted_printable::encode_to_str(&line));
                }
            }
        }
        Ok((envelope, message.into_bytes()))
    }

    /// Appends the `Date` header for now; its text changes once a second,
    /// so it is formatted once a second.
    fn push_date(&self, message: &mut String) {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut date = lock(&self.date);
        if date.second != second || date.line.is_empty() {
            let mut headers = Headers::with_capacity(1);
            headers.set(Date::from(now));
            date.line = headers.to_string();
            date.second = second;
        }
        message.push_str(&date.line);
    }
}

struct Values<'a> {
    greeting: &'a str,
    address: &'a str,
}

/// Builds the segments: fixed text accumulates until a slotted line.
#[derive(Default)]
struct Segments {
    done: Vec<Segment>,
    fixed: String,
}

impl Segments {
    /// One body part (text or HTML): its headers, then its lines, each
    /// quoted-printable encoded unless it holds a slot.
    fn push_part(&mut self, rendered: &str, markers: &Markers, html: bool) {
        self.fixed.push_str(if html {
            "Content-Type: text/html; charset=utf-8\r\n"
        } else {
            "Content-Type: text/plain; charset=utf-8\r\n"
        });
        self.fixed
            .push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        let lines = rendered
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line));
        for (index, line) in lines.enumerate() {
            if index > 0 {
                self.fixed.push_str("\r\n");
            }
            let pieces = pieces(line, markers);
            if pieces.iter().any(|piece| matches!(piece, Piece::Slot(_))) {
                self.done
                    .push(Segment::Fixed(std::mem::take(&mut self.fixed)));
                self.done.push(Segment::Slotted { pieces, html });
            } else {
                self.fixed.push_str(&quoted_printable::encode_to_str(line));
            }
        }
        self.fixed.push_str("\r\n");
    }

    fn finish(mut self) -> Vec<Segment> {
        self.done.push(Segment::Fixed(self.fixed));
        self.done
            .retain(|segment| !matches!(segment, Segment::Fixed(text) if text.is_empty()));
        self.done
    }
}

/// One slotted line with the member's values in (HTML-escaped in the HTML
/// part), before quoted-printable encoding.
fn fill(line: &mut String, pieces: &[Piece], values: &Values<'_>, html: bool) {
    for piece in pieces {
        match piece {
            Piece::Literal(text) => line.push_str(text),
            Piece::Slot(slot) => {
                let value = match slot {
                    Slot::Greeting => values.greeting,
                    Slot::Address => values.address,
                };
                if html {
                    line.push_str(&escape_html(value));
                } else {
                    line.push_str(value);
                }
            }
        }
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
