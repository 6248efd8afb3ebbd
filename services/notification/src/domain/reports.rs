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
