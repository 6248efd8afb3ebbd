//! Amazon SES events, as SES publishes them to an Amazon SNS topic (the
//! JSON in a verified SNS notification's `Message`, see [`super::sns`]).
//!
//! Both shapes SES uses are read: identity notifications
//! (`notificationType`) and configuration-set event publishing
//! (`eventType`). A `Bounce` whose `bounceType` is `Permanent` is a hard
//! bounce, `Transient` a soft bounce, and `Undetermined` (SES could not
//! tell) a soft bounce too, so the email is retried a bounded number of
//! times before it counts as hard. A `Complaint` is a complaint (but a
//! `complaintFeedbackType` of `not-spam` is ignored). Every other event
//! (`Delivery`, `Send`, `Open`, …) is ignored. The Message-ID is the
//! original header's (`mail.commonHeaders.messageId`, else the
//! `Message-ID` among `mail.headers`), never SES's own `mail.messageId`;
//! the report id is the SNS MessageId and the recipient.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Malformed, Parsed, clip_detail, message_id, recipient, report_id};
use crate::domain::reports::{DeliveryReport, ReportKind};

/// The `source` of these reports.
pub const SOURCE: &str = "ses";

/// An SES event; only what the intake reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    notification_type: Option<String>,
    event_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    mail: Option<Mail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    complaint_feedback_type: Option<String>,
    user_agent: Option<String>,
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    diagnostic_code: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    #[serde(default)]
    headers: Vec<Header>,
    common_headers: Option<CommonHeaders>,
}

#[derive(Debug, Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommonHeaders {
    message_id: Option<String>,
}

/// The reports in the SES event `message`, delivered as the SNS message
/// `sns_message_id`.
pub fn parse(sns_message_id: &str, message: &str) -> Result<Parsed, Malformed> {
    let event: Event = serde_json::from_str(message)
        .map_err(|error| Malformed::new(format!("Message is not an SES event: {error}")))?;
    let event_type = event
        .notification_type
        .as_deref()
        .or(event.event_type.as_deref())
        .ok_or_else(|| Malformed::new("the SES event has no notificationType or eventType"))?;
    let original = event.mail.as_ref().and_then(original_message_id);
    let report_of = |address: &str,
                     kind: ReportKind,
                     detail: String,
                     occurred_at: Option<DateTime<Utc>>|
     -> Result<DeliveryReport, Malformed> {
        let address = recipient(address)
            .ok_or_else(|| Malformed::new("an SES recipient's emailAddress is not an address"))?;
        Ok(DeliveryReport {
            source: SOURCE.to_owned(),
            report_id: report_id(&[sns_message_id, &address]),
            kind,
            message_id: original.clone(),
            recipient: Some(address),
            detail: clip_detail(&detail),
            occurred_at,
        })
    };
    match event_type {
        "Bounce" => {
            let bounce = event
                .bounce
                .ok_or_else(|| Malformed::new("a Bounce event without `bounce`"))?;
            let kind = match bounce.bounce_type.as_str() {
                "Permanent" => ReportKind::HardBounce,
                "Transient" | "Undetermined" => ReportKind::SoftBounce,
                other => {
                    return Err(Malformed::new(format!(
                        "unknown bounceType {:?}",
                        other.chars().take(40).collect::<String>()
                    )));
                }
            };
            let occurred_at = timestamp(bounce.timestamp.as_deref());
            let summary = format!(
                "ses: {} bounce ({})",
                bounce.bounce_type,
                bounce.bounce_sub_type.as_deref().unwrap_or("no subtype")
            );
            let reports = bounce
                .bounced_recipients
                .iter()
                .map(|each| {
                    let detail = each
                        .diagnostic_code
                        .clone()
                        .or_else(|| {
                            each.status
                                .as_ref()
                                .map(|status| format!("{summary}, status {status}"))
                        })
                        .unwrap_or_else(|| summary.clone());
                    report_of(&each.email_address, kind, detail, occurred_at)
                })
                .collect::<Result<Vec<_>, Malformed>>()?;
            if reports.is_empty() {
                return Err(Malformed::new("a Bounce event without bouncedRecipients"));
            }
            Ok(Parsed {
                reports,
                ignored: 0,
            })
        }
        "Complaint" => {
            let complaint = event
                .complaint
                .ok_or_else(|| Malformed::new("a Complaint event without `complaint`"))?;
            if complaint.complaint_feedback_type.as_deref() == Some("not-spam") {
                return Ok(Parsed {
                    reports: Vec::new(),
                    ignored: 1,
                });
            }
            let occurred_at = timestamp(complaint.timestamp.as_deref());
            let detail = format!(
                "ses: complaint ({}) from {}",
                complaint
                    .complaint_feedback_type
                    .as_deref()
                    .unwrap_or("no feedback type"),
                complaint
                    .user_agent
                    .as_deref()
                    .unwrap_or("an unnamed agent")
            );
            let reports = complaint
                .complained_recipients
                .iter()
                .map(|each| {
                    report_of(
                        &each.email_address,
                        ReportKind::Complaint,
                        detail.clone(),
                        occurred_at,
                    )
                })
                .collect::<Result<Vec<_>, Malformed>>()?;
            if reports.is_empty() {
                return Err(Malformed::new(
                    "a Complaint event without complainedRecipients",
                ));
            }
            Ok(Parsed {
                reports,
                ignored: 0,
            })
        }
        _ => Ok(Parsed {
            reports: Vec::new(),
            ignored: 1,
        }),
    }
}

/// The original email's Message-ID as the sender wrote it.
fn original_message_id(mail: &Mail) -> Option<String> {
    mail.common_headers
        .as_ref()
        .and_then(|common| common.message_id.as_deref())
        .and_then(message_id)
        .or_else(|| {
            mail.headers
                .iter()
                .find(|header| header.name.eq_ignore_ascii_case("Message-ID"))
                .and_then(|header| message_id(&header.value))
        })
}

/// An SES ISO 8601 timestamp.
fn timestamp(value: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNCE: &str = include_str!("../../tests/fixtures/delivery_reports/ses_bounce.json");
    const COMPLAINT: &str =
        include_str!("../../tests/fixtures/delivery_reports/ses_complaint.json");

    #[test]
    fn a_permanent_bounce_is_a_hard_bounce_per_recipient() {
        let parsed = parse("b3a1-sns-id", BOUNCE).unwrap();
        assert_eq!(parsed.reports.len(), 1);
        let report = &parsed.reports[0];
        assert_eq!(report.source, "ses");
        assert_eq!(report.kind, ReportKind::HardBounce);
        assert_eq!(report.recipient.as_deref(), Some("jane@example.com"));
        assert_eq!(
            report.message_id.as_deref(),
            Some("custom-message-ID@books.example")
        );
        assert_eq!(report.report_id, "b3a1-sns-id/jane@example.com");
        assert_eq!(report.detail, "smtp; 550 5.1.1 <jane@example.com>... User");
        assert_eq!(
            report.occurred_at.unwrap().to_rfc3339(),
            "2016-01-27T14:59:38.237+00:00"
        );
    }

    #[test]
    fn transient_and_undetermined_bounces_are_soft() {
        for bounce_type in ["Transient", "Undetermined"] {
            let message = BOUNCE.replace("\"Permanent\"", &format!("{bounce_type:?}"));
            let parsed = parse("id", &message).unwrap();
            assert_eq!(parsed.reports[0].kind, ReportKind::SoftBounce);
        }
    }

    #[test]
    fn a_complaint_is_a_complaint_and_event_publishing_reads_the_same() {
        let parsed = parse("c9-sns-id", COMPLAINT).unwrap();
        assert_eq!(parsed.reports.len(), 1);
        let report = &parsed.reports[0];
        assert_eq!(report.kind, ReportKind::Complaint);
        assert_eq!(report.recipient.as_deref(), Some("richard@example.com"));
        assert_eq!(
            report.message_id.as_deref(),
            Some("custom-message-ID@books.example")
        );
        let published = COMPLAINT.replace("\"notificationType\"", "\"eventType\"");
        assert_eq!(parse("c9-sns-id", &published).unwrap(), parsed);
    }

    #[test]
    fn deliveries_and_not_spam_are_ignored() {
        let delivery = r#"{"notificationType":"Delivery","mail":{},"delivery":{}}"#;
        assert_eq!(parse("id", delivery).unwrap().ignored, 1);
        let not_spam = COMPLAINT.replace("\"abuse\"", "\"not-spam\"");
        let parsed = parse("id", &not_spam).unwrap();
        assert!(parsed.reports.is_empty());
    }

    #[test]
    fn malformed_events_say_why() {
        let cases = [
            ("not json", "not an SES event"),
            ("{}", "no notificationType or eventType"),
            (r#"{"notificationType":"Bounce"}"#, "without `bounce`"),
            (
                r#"{"notificationType":"Bounce","bounce":{"bounceType":"Sideways","bouncedRecipients":[]}}"#,
                "unknown bounceType",
            ),
            (
                r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[]}}"#,
                "without bouncedRecipients",
            ),
        ];
        for (message, expected) in cases {
            let error = parse("id", message).unwrap_err();
            assert!(error.0.contains(expected), "{message}: {error}");
        }
    }
}
