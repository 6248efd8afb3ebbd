//! Delivery reports: what a mail provider says about an email after its SMTP
//! server accepted it — a hard bounce, a soft bounce, a complaint. Every way
//! a report arrives (the gRPC `RecordDeliveryReport`, the HTTP intake's DSN,
//! ARF, Amazon SES via SNS and SendGrid endpoints) turns it into a
//! [`DeliveryReport`] and records it in one place
//! (`store::reports::record_delivery_report`), so every source has the same
//! effect and the same idempotency.

use chrono::{DateTime, Utc};

/// What the provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// Permanent failure: the notice is BOUNCED, the address suppressed.
    HardBounce,
    /// Temporary failure after acceptance: the email is queued again, up to
    /// `SOFT_BOUNCE_MAX_RETRIES` times, then treated as a hard bounce.
    SoftBounce,
    /// The recipient marked the email as spam: COMPLAINED, address suppressed.
    Complaint,
}

/// One report about one recipient of one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Who reported it, `[a-z0-9._-]{1,64}`: `dsn`, `arf`, `ses`, `sendgrid`,
    /// or a `RecordDeliveryReport` caller's own source name. With
    /// `report_id`, the idempotency key.
    pub source: String,
    /// The report's identifier at its source (a provider's event id, a DSN's
    /// own Message-ID plus the recipient), 1..=200 printable ASCII
    /// characters.
    pub report_id: String,
    /// What happened.
    pub kind: ReportKind,
    /// The reported email's Message-ID without angle brackets
    /// (`0196…@example.org`), when the report carries it.
    pub message_id: Option<String>,
    /// The recipient the report is about, when the report names it.
    /// Without `message_id`, the report applies to the most recent email
    /// sent to this address.
    pub recipient: Option<String>,
    /// What the provider said, at most 1000 characters (a DSN's
    /// Diagnostic-Code, a provider's bounce description); never a secret.
    pub detail: String,
    /// When the provider observed it; `None` means when it was recorded.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Longest `detail` kept, in characters.
pub const MAX_DETAIL_CHARS: usize = 1000;

/// The first wait before a soft-bounced email is sent again; the n-th soft
/// bounce waits n times this (15, 30, 45 minutes …): a full mailbox or a
/// greylisting provider needs time, not a quick retry.
pub const SOFT_BOUNCE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The sources the HTTP intake uses; any other source is a
/// `RecordDeliveryReport` caller's own (counted as `grpc` in metrics).
pub const INTAKE_SOURCES: [&str; 4] = ["dsn", "arf", "ses", "sendgrid"];

impl ReportKind {
    /// The name stored in `delivery_reports.kind` and
    /// `email_jobs.report_kind` (the columns' CHECK), also the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HardBounce => "hard_bounce",
            Self::SoftBounce => "soft_bounce",
            Self::Complaint => "complaint",
        }
    }

    /// The kind of a stored name; `None` for NULL or a name this build does
    /// not know.
    pub fn parse(stored: Option<&str>) -> Option<Self> {
        match stored? {
            "hard_bounce" => Some(Self::HardBounce),
            "soft_bounce" => Some(Self::SoftBounce),
            "complaint" => Some(Self::Complaint),
            _ => None,
        }
    }
}

/// A report field that breaks its rule (the message names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidReport {
    /// The field as `RecordDeliveryReportRequest` names it.
    pub field: &'static str,
    /// The rule it breaks, in words.
    pub reason: &'static str,
}

impl InvalidReport {
    fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
}

/// A report once checked: what matching and recording need, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedReport<'a> {
    /// The reported Message-ID, when given.
    pub message_id: Option<MessageId>,
    /// The recipient, lower-cased (as the suppression list stores
    /// addresses), when given.
    pub recipient: Option<String>,
    /// The provider's words, trimmed.
    pub detail: &'a str,
}

/// A Message-ID split at its last `@`, without angle brackets; the domain
/// lower-cased (domains are case-insensitive, the local part is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId {
    /// The part before the `@`, as given.
    pub local: String,
    /// The part after the `@`, lower-cased.
    pub domain: String,
}

impl MessageId {
    /// Parses `<local@domain>` or `local@domain` (surrounding blanks
    /// ignored); `None` when it is not of that shape or holds anything but
    /// printable ASCII without spaces.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let inner = value
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix('>'))
            .unwrap_or(value);
        if !inner.bytes().all(|byte| (0x21..=0x7e).contains(&byte)) || inner.contains(['<', '>']) {
            return None;
        }
        let (local, domain) = inner.rsplit_once('@')?;
        if local.is_empty() || domain.is_empty() {
            return None;
        }
        Some(Self {
            local: local.to_owned(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// The job a Message-ID of this service names: they are all
    /// `<job_id@domain>`.
    pub fn job_id(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::parse_str(&self.local).ok()
    }
}

impl DeliveryReport {
    /// Checks every field against its rule (RecordDeliveryReportRequest's
    /// comments) and returns the normalised Message-ID and recipient. An
    /// empty `message_id` or `recipient` counts as absent; one of them is
    /// required.
    pub fn check(&self, now: DateTime<Utc>) -> Result<CheckedReport<'_>, InvalidReport> {
        let source_ok = (1..=64).contains(&self.source.len())
            && self.source.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte)
            });
        if !source_ok {
            return Err(InvalidReport::new(
                "source",
                "must be 1..=64 characters of [a-z0-9._-]",
            ));
        }
        let report_id_ok = (1..=200).contains(&self.report_id.len())
            && self
                .report_id
                .bytes()
                .all(|byte| (0x20..=0x7e).contains(&byte));
        if !report_id_ok {
            return Err(InvalidReport::new(
                "report_id",
                "must be 1..=200 printable ASCII characters",
            ));
        }
        let message_id = match self.message_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(value) if value.len() > 998 => {
                return Err(InvalidReport::new(
                    "message_id",
                    "must be at most 998 characters",
                ));
            }
            Some(value) => Some(MessageId::parse(value).ok_or(InvalidReport::new(
                "message_id",
                "must be an RFC 5322 Message-ID (local@domain, angle brackets optional)",
            ))?),
        };
        let recipient = match self.recipient.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(value) if value.chars().count() > 254 => {
                return Err(InvalidReport::new(
                    "recipient",
                    "must be at most 254 characters",
                ));
            }
            Some(value) => {
                if value.parse::<lettre::Address>().is_err() {
                    return Err(InvalidReport::new(
                        "recipient",
                        "must be an RFC 5321 address",
                    ));
                }
                Some(value.to_lowercase())
            }
        };
        if message_id.is_none() && recipient.is_none() {
            return Err(InvalidReport::new(
                "message_id",
                "message_id or recipient is required",
            ));
        }
        let detail = self.detail.trim();
        if detail.chars().count() > MAX_DETAIL_CHARS {
            return Err(InvalidReport::new(
                "detail",
                "must be at most 1000 characters",
            ));
        }
        if detail
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(InvalidReport::new(
                "detail",
                "must not hold control characters other than tab and line breaks",
            ));
        }
        if self
            .occurred_at
            .is_some_and(|at| at > now + chrono::Duration::minutes(5))
        {
            return Err(InvalidReport::new(
                "occurred_at",
                "must not be in the future (5 minutes of clock skew tolerated)",
            ));
        }
        Ok(CheckedReport {
            message_id,
            recipient,
            detail,
        })
    }
}

/// What a report does to the job it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportEffect {
    /// The job is not SENT (not yet sent, or already BOUNCED or
    /// COMPLAINED …): the report is recorded, the job left as it is.
    Nothing,
    /// BOUNCED, the address suppressed.
    Bounce,
    /// COMPLAINED, the address suppressed.
    Complain,
    /// A soft bounce within the limit: QUEUED again, due after `delay`.
    SendAgain {
        /// How long until it is due.
        delay: std::time::Duration,
    },
    /// A soft bounce within the limit of an email that cannot be sent
    /// again (a transactional email: its content, which may hold a secret
    /// link, was erased once sent): counted, the job stays SENT.
    CountOnly,
}

/// The effect of a report of `kind` on a job that is SENT (`sent`) or not,
/// with `soft_bounces` soft bounces counted before this one; at most
/// `max_retries` soft bounces send it again, the next is a hard bounce.
/// `resendable`: whether the job can be sent again (a breach notice).
pub fn effect(
    kind: ReportKind,
    sent: bool,
    soft_bounces: u32,
    max_retries: u32,
    resendable: bool,
) -> ReportEffect {
    if !sent {
        return ReportEffect::Nothing;
    }
    match kind {
        ReportKind::HardBounce => ReportEffect::Bounce,
        ReportKind::Complaint => ReportEffect::Complain,
        ReportKind::SoftBounce if soft_bounces >= max_retries => ReportEffect::Bounce,
        ReportKind::SoftBounce if resendable => ReportEffect::SendAgain {
            delay: SOFT_BOUNCE_RETRY_DELAY.saturating_mul(soft_bounces.saturating_add(1)),
        },
        ReportKind::SoftBounce => ReportEffect::CountOnly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> DeliveryReport {
        DeliveryReport {
            source: "postmaster-tool".to_owned(),
            report_id: "r-1".to_owned(),
            kind: ReportKind::HardBounce,
            message_id: Some("<0196a1b2-0000-7000-8000-000000000001@Books.Example>".to_owned()),
            recipient: Some(" Ann@Example.ORG ".to_owned()),
            detail: "smtp; 550 5.1.1 user unknown".to_owned(),
            occurred_at: None,
        }
    }

    #[test]
    fn a_report_is_normalised_and_each_broken_field_is_named() {
        let now = Utc::now();
        let checked = report();
        let checked = checked.check(now).unwrap();
        let message_id = checked.message_id.unwrap();
        assert_eq!(message_id.domain, "books.example");
        assert!(message_id.job_id().is_some());
        assert_eq!(checked.recipient.as_deref(), Some("ann@example.org"));
        let field = |change: fn(&mut DeliveryReport)| {
            let mut report = report();
            change(&mut report);
            report.check(now).unwrap_err().field
        };
        assert_eq!(field(|r| r.source = "Upper".to_owned()), "source");
        assert_eq!(field(|r| r.source = String::new()), "source");
        assert_eq!(field(|r| r.report_id = "x".repeat(201)), "report_id");
        assert_eq!(field(|r| r.report_id = "tab\t".to_owned()), "report_id");
        assert_eq!(
            field(|r| r.message_id = Some("no-at".to_owned())),
            "message_id"
        );
        assert_eq!(
            field(|r| r.recipient = Some("not an address".to_owned())),
            "recipient"
        );
        assert_eq!(field(|r| r.detail = "x".repeat(1001)), "detail");
        assert_eq!(
            field(|r| r.occurred_at = Some(Utc::now() + chrono::Duration::hours(1))),
            "occurred_at"
        );
        assert_eq!(
            field(|r| {
                r.message_id = None;
                r.recipient = Some(String::new());
            }),
            "message_id"
        );
    }

    #[test]
    fn message_ids_parse_with_or_without_brackets() {
        let bare = MessageId::parse("abc@EXAMPLE.org").unwrap();
        assert_eq!(bare, MessageId::parse("<abc@example.ORG>").unwrap());
        assert_eq!(bare.job_id(), None);
        assert!(MessageId::parse("<a b@example.org>").is_none());
        assert!(MessageId::parse("@example.org").is_none());
    }

    #[test]
    fn soft_bounces_send_again_up_to_the_limit_then_bounce() {
        use ReportEffect::*;
        let soft = ReportKind::SoftBounce;
        assert_eq!(
            effect(soft, true, 0, 3, true),
            SendAgain {
                delay: SOFT_BOUNCE_RETRY_DELAY
            }
        );
        assert!(matches!(effect(soft, true, 2, 3, true), SendAgain { .. }));
        assert_eq!(effect(soft, true, 3, 3, true), Bounce);
        assert_eq!(effect(soft, true, 0, 0, true), Bounce);
        assert_eq!(effect(soft, true, 0, 3, false), CountOnly);
        assert_eq!(effect(ReportKind::HardBounce, true, 0, 3, true), Bounce);
        assert_eq!(effect(ReportKind::Complaint, true, 0, 3, true), Complain);
        assert_eq!(effect(ReportKind::HardBounce, false, 0, 3, true), Nothing);
    }
}
