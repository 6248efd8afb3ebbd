//! The delivery-report intake: an HTTP listener of its own
//! (`DELIVERY_REPORTS_ADDR`) where mail providers tell the service, after
//! the fact, that an email it sent bounced or drew a complaint.
//!
//! One file per source turns that source's payload into
//! [`DeliveryReport`]s, with no I/O: [`dsn`] (RFC 3464 bounce messages),
//! [`arf`] (RFC 5965 feedback reports), [`ses`] (Amazon SES events inside
//! Amazon SNS notifications, whose signatures [`sns`] verifies) and
//! [`sendgrid`] (SendGrid's signed event webhook). [`credentials`] holds the
//! settings and checks who may post; [`router`] serves the endpoints and
//! records every report through `store::reports`, the one place every
//! source (and the gRPC `RecordDeliveryReport`) goes through.
//!
//! Nothing here logs a credential or a body: reports are logged by their
//! source and id.

use sha2::{Digest as _, Sha256};

use crate::domain::reports::{DeliveryReport, MessageId};

pub mod arf;
pub mod certificates;
pub mod credentials;
pub mod dsn;
mod fields;
pub mod router;
pub mod sendgrid;
pub mod ses;
pub mod sns;

pub use credentials::DeliveryReportsConfig;
pub use router::{Intake, serve};

/// Longest `report_id` the contract allows; longer ones are replaced by a
/// digest of themselves, which is as unique and as stable.
const MAX_REPORT_ID_CHARS: usize = 200;

/// Longest `detail` the contract allows.
const MAX_DETAIL_CHARS: usize = 1000;

/// Longest recipient address (RFC 5321).
const MAX_RECIPIENT_CHARS: usize = 254;

/// Longest Message-ID kept (an RFC 5322 line).
const MAX_MESSAGE_ID_CHARS: usize = 998;

/// Why a body cannot be read as the report its endpoint takes; the text is
/// the precise reason, sent back with 400 (it never quotes the body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl Malformed {
    /// A reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// The report id from its parts (a DSN's own Message-ID and a recipient, an
/// SNS MessageId and a recipient): the parts joined with `/` when that is
/// printable ASCII of at most 200 characters, otherwise `sha256:` and the
/// hex digest of the joined parts.
pub fn report_id(parts: &[&str]) -> String {
    let joined = parts.join("/");
    let printable = joined.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if printable && !joined.is_empty() && joined.len() <= MAX_REPORT_ID_CHARS {
        return joined;
    }
    format!("sha256:{}", hex_digest(joined.as_bytes()))
}

/// The lower-case hex SHA-256 of `bytes`.
fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `detail` cut to what the contract stores, on a character boundary, with
/// control characters (a folded header's line breaks) turned into spaces.
pub fn clip_detail(detail: &str) -> String {
    detail
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DETAIL_CHARS)
        .collect()
}

/// A Message-ID as the deliveries store it: trimmed, without the angle
/// brackets; `None` when it is not an RFC 5322 `local@domain` (then it
/// cannot name an email of this service, whose are all `<job_id@domain>`,
/// and the report goes by its recipient).
pub fn message_id(value: &str) -> Option<String> {
    let trimmed = value.trim();
    let bare = trimmed
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(trimmed)
        .trim();
    let usable = bare.len() <= MAX_MESSAGE_ID_CHARS && MessageId::parse(bare).is_some();
    usable.then(|| bare.to_owned())
}

/// A recipient address from a report: an RFC 3464 `type; address` value
/// loses its address type (`rfc822;`), angle brackets go; `None` when what
/// is left is not an address.
pub fn recipient(value: &str) -> Option<String> {
    let value = value.trim();
    let address = match value.split_once(';') {
        Some((kind, address)) if !kind.contains('@') => address,
        _ => value,
    };
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let usable = address.chars().count() <= MAX_RECIPIENT_CHARS
        && address.parse::<lettre::Address>().is_ok();
    usable.then(|| address.to_owned())
}

/// The reports of one body, with how many of its entries were ignored
/// (events the intake does not act on, such as a successful delivery).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The reports to record.
    pub reports: Vec<DeliveryReport>,
    /// Entries that were understood and deliberately not recorded.
    pub ignored: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_are_joined_parts_or_a_digest() {
        assert_eq!(
            report_id(&["abc@mta.example", "member@example.org"]),
            "abc@mta.example/member@example.org"
        );
        let long = "x".repeat(300);
        let digest = report_id(&[&long, "member@example.org"]);
        assert!(digest.starts_with("sha256:"), "{digest}");
        assert_eq!(digest.len(), 7 + 64);
        assert_eq!(digest, report_id(&[&long, "member@example.org"]));
        assert!(report_id(&["ünïcode"]).starts_with("sha256:"));
    }

    #[test]
    fn message_ids_lose_their_brackets() {
        assert_eq!(
            message_id(" <0196@books.example> ").as_deref(),
            Some("0196@books.example")
        );
        assert_eq!(
            message_id("0196@books.example").as_deref(),
            Some("0196@books.example")
        );
        assert_eq!(message_id("<>"), None);
        assert_eq!(message_id("two words@x"), None);
        assert_eq!(message_id("custom-message-ID"), None, "no domain");
    }

    #[test]
    fn recipients_lose_their_address_type() {
        assert_eq!(
            recipient("rfc822; member@example.org").as_deref(),
            Some("member@example.org")
        );
        assert_eq!(
            recipient("<member@example.org>").as_deref(),
            Some("member@example.org")
        );
        assert_eq!(recipient("rfc822; nobody"), None);
    }

    #[test]
    fn details_are_one_clipped_line() {
        assert_eq!(
            clip_detail("smtp; 550 5.1.1\r\n    user unknown"),
            "smtp; 550 5.1.1 user unknown"
        );
        assert_eq!(clip_detail(&"é".repeat(2000)).chars().count(), 1000);
    }
}
