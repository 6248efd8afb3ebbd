//! What DSNs (RFC 3464) and feedback reports (RFC 5965) share: both are
//! `multipart/report` messages (RFC 6522) whose machine-readable part is
//! groups of header-like fields separated by blank lines, and whose last
//! part returns the original message (`message/rfc822`) or only its header
//! (`text/rfc822-headers`), where the original Message-ID is.

use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser, MimeHeaders as _};

use super::Malformed;

/// One group of `Name: value` fields; names compare case-insensitively.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct FieldGroup {
    fields: Vec<(String, String)>,
}

impl FieldGroup {
    /// The first value of `name`, trimmed.
    pub(super) fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every value of `name`, trimmed, in order.
    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }
}

/// The field groups of a `message/delivery-status` or
/// `message/feedback-report` body: folded lines unfolded, blank lines
/// between groups, lines that are no field skipped.
pub(super) fn field_groups(text: &str) -> Vec<FieldGroup> {
    let mut groups = Vec::new();
    let mut current = FieldGroup::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if !name.is_empty() && !name.contains(' ') {
                current
                    .fields
                    .push((name.to_owned(), value.trim().to_owned()));
            }
        }
    }
    if !current.fields.is_empty() {
        groups.push(current);
    }
    groups
}

/// A parsed `multipart/report` of one report type.
pub(super) struct Report<'a> {
    message: Message<'a>,
}

impl<'a> Report<'a> {
    /// Parses `body` as an RFC 5322 message that is (or holds) a
    /// `multipart/report; report-type=<report_type>`.
    pub(super) fn parse(body: &'a [u8], report_type: &str) -> Result<Self, Malformed> {
        let message = MessageParser::default()
            .parse(body)
            .filter(|message| !message.headers().is_empty())
            .ok_or_else(|| Malformed::new("the body is not an RFC 5322 message"))?;
        let is_report = message.parts.iter().any(|part| {
            part.content_type().is_some_and(|content_type| {
                content_type.ctype().eq_ignore_ascii_case("multipart")
                    && content_type
                        .subtype()
                        .is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"))
                    && content_type
                        .attribute("report-type")
                        .is_some_and(|kind| kind.eq_ignore_ascii_case(report_type))
            })
        });
        if !is_report {
            return Err(Malformed::new(format!(
                "the message is not a multipart/report with report-type={report_type}"
            )));
        }
        Ok(Self { message })
    }

    /// The report message's own Message-ID, without brackets.
    pub(super) fn own_message_id(&self) -> Option<String> {
        self.message.message_id().and_then(super::message_id)
    }

    /// The report message's own Date.
    pub(super) fn date(&self) -> Option<DateTime<Utc>> {
        self.message
            .date()
            .and_then(|date| DateTime::from_timestamp(date.to_timestamp(), 0))
    }

    /// The text of the first part of type `message/<subtype>` among
    /// `subtypes`, e.g. `delivery-status`.
    pub(super) fn machine_part(&self, subtypes: &[&str]) -> Option<String> {
        self.message
            .parts
            .iter()
            .find(|part| {
                part.content_type().is_some_and(|content_type| {
                    content_type.ctype().eq_ignore_ascii_case("message")
                        && content_type.subtype().is_some_and(|subtype| {
                            subtypes
                                .iter()
                                .any(|wanted| subtype.eq_ignore_ascii_case(wanted))
                        })
                })
            })
            .map(|part| String::from_utf8_lossy(part.contents()).into_owned())
    }

    /// The Message-ID of the returned original message: from a
    /// `message/rfc822` (or `message/global`) part, else from a
    /// `text/rfc822-headers` part.
    pub(super) fn original_message_id(&self) -> Option<String> {
        for part in &self.message.parts {
            let Some(content_type) = part.content_type() else {
                continue;
            };
            let subtype = content_type.subtype().unwrap_or_default();
            let ctype = content_type.ctype();
            if let Some(original) = part.message() {
                if let Some(id) = original.message_id().and_then(super::message_id) {
                    return Some(id);
                }
            } else if ctype.eq_ignore_ascii_case("text")
                && (subtype.eq_ignore_ascii_case("rfc822-headers")
                    || subtype.eq_ignore_ascii_case("global-headers"))
            {
                let headers = MessageParser::default().parse_headers(part.contents());
                if let Some(id) = headers
                    .as_ref()
                    .and_then(|headers| headers.message_id())
                    .and_then(super::message_id)
                {
                    return Some(id);
                }
            }
        }
        None
    }
}

/// An RFC 5322 date field (`Last-Attempt-Date`, `Arrival-Date`).
pub(super) fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    mail_parser::DateTime::parse_rfc822(value.trim())
        .filter(|date| date.is_valid())
        .and_then(|date| DateTime::from_timestamp(date.to_timestamp(), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_separated_by_blank_lines_and_unfolded() {
        let groups = field_groups(
            "Reporting-MTA: dns; mta.example\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nDiagnostic-Code: smtp; 550\r\n  user unknown\r\n\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\n",
        );
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].get("reporting-mta"), Some("dns; mta.example"));
        assert_eq!(
            groups[1].get("Diagnostic-Code"),
            Some("smtp; 550 user unknown")
        );
        assert_eq!(
            groups[2].get("final-recipient"),
            Some("rfc822; b@example.org")
        );
    }

    #[test]
    fn dates_are_rfc_5322() {
        let date = parse_date("Wed, 25 Nov 2026 10:15:02 +0100 (CET)").unwrap();
        assert_eq!(date.to_rfc3339(), "2026-11-25T09:15:02+00:00");
        assert_eq!(parse_date("yesterday"), None);
    }
}
