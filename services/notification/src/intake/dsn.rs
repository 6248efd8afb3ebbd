//! `POST /delivery-reports/dsn`: a bounce message as an MTA sends it back,
//! a `multipart/report; report-type=delivery-status` (RFC 3464).
//!
//! Each per-recipient group of the `message/delivery-status` part is one
//! report: `Action: failed` is a hard bounce (the MTA gave up, whatever
//! the status class), `Action: delayed` a soft bounce; other actions
//! (`delivered`, `relayed`, `expanded`) are no failure and are ignored. A
//! group without a known action goes by its `Status` class (5 hard, 4
//! soft). The recipient is `Final-Recipient` (else `Original-Recipient`),
//! the detail `Diagnostic-Code` (else the status), the original
//! Message-ID comes from the returned message or its header, and the
//! report id is the DSN's own Message-ID and the recipient.

use super::fields::{FieldGroup, Report, field_groups, parse_date};
use super::{Malformed, Parsed, clip_detail, hex_digest, recipient, report_id};
use crate::domain::reports::{DeliveryReport, ReportKind};

/// The `source` of these reports.
pub const SOURCE: &str = "dsn";

/// The reports in a DSN message.
pub fn parse(body: &[u8]) -> Result<Parsed, Malformed> {
    let report = Report::parse(body, "delivery-status")?;
    let status = report
        .machine_part(&["delivery-status", "global-delivery-status"])
        .ok_or_else(|| Malformed::new("the report has no message/delivery-status part"))?;
    let groups = field_groups(&status);
    // The first group is about the message, the others each about one
    // recipient (RFC 3464 section 2.1).
    let recipients: Vec<&FieldGroup> = groups.iter().skip(1).collect();
    if recipients.is_empty() {
        return Err(Malformed::new(
            "the delivery-status part has no per-recipient fields",
        ));
    }
    // Without a Message-ID of its own, the DSN's bytes name it: a provider
    // that posts the same DSN again posts the same bytes.
    let own_id = report
        .own_message_id()
        .unwrap_or_else(|| format!("sha256:{}", hex_digest(body)));
    let original = report.original_message_id();
    let dated = report.date();
    let mut parsed = Parsed::default();
    for (index, group) in recipients.into_iter().enumerate() {
        let Some(kind) = kind_of(group) else {
            parsed.ignored += 1;
            continue;
        };
        let address = group
            .get("Final-Recipient")
            .or_else(|| group.get("Original-Recipient"))
            .and_then(recipient)
            .ok_or_else(|| {
                Malformed::new(format!(
                    "recipient {}: no Final-Recipient with an address",
                    index + 1
                ))
            })?;
        let detail = group
            .get("Diagnostic-Code")
            .or_else(|| group.get("Status"))
            .map(clip_detail)
            .unwrap_or_default();
        parsed.reports.push(DeliveryReport {
            source: SOURCE.to_owned(),
            report_id: report_id(&[&own_id, &address]),
            kind,
            message_id: original.clone(),
            recipient: Some(address),
            detail,
            occurred_at: group
                .get("Last-Attempt-Date")
                .and_then(parse_date)
                .or(dated),
        });
    }
    Ok(parsed)
}

/// What a recipient's group reports, or `None` for no failure.
fn kind_of(group: &FieldGroup) -> Option<ReportKind> {
    let action = group.get("Action").map(|action| {
        action
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    });
    match action.as_deref() {
        Some("failed") => return Some(ReportKind::HardBounce),
        Some("delayed") => return Some(ReportKind::SoftBounce),
        Some("delivered" | "relayed" | "expanded") => return None,
        _ => {}
    }
    match group.get("Status")?.trim().chars().next()? {
        '5' => Some(ReportKind::HardBounce),
        '4' => Some(ReportKind::SoftBounce),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTFIX: &[u8] =
        include_bytes!("../../tests/fixtures/delivery_reports/dsn_postfix_hard.eml");
    const DELAYED: &[u8] =
        include_bytes!("../../tests/fixtures/delivery_reports/dsn_delayed_headers_only.eml");

    #[test]
    fn a_postfix_bounce_is_a_hard_bounce_per_failed_recipient() {
        let parsed = parse(POSTFIX).unwrap();
        assert_eq!(parsed.ignored, 1, "the delivered recipient");
        assert_eq!(parsed.reports.len(), 1);
        let report = &parsed.reports[0];
        assert_eq!(report.source, "dsn");
        assert_eq!(report.kind, ReportKind::HardBounce);
        assert_eq!(report.recipient.as_deref(), Some("nobody@example.org"));
        assert_eq!(
            report.message_id.as_deref(),
            Some("0196f3a2-7c1e-7d4b-9a51-2f0c8e4b1d77@books.example")
        );
        assert_eq!(
            report.report_id,
            "20261125091502.4C3B21A0F3@mx.books.example/nobody@example.org"
        );
        assert_eq!(
            report.detail,
            "smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
        );
        assert_eq!(
            report.occurred_at.unwrap().to_rfc3339(),
            "2026-11-25T09:15:02+00:00"
        );
    }

    #[test]
    fn a_delay_warning_with_headers_only_is_a_soft_bounce() {
        let parsed = parse(DELAYED).unwrap();
        assert_eq!(parsed.reports.len(), 1);
        let report = &parsed.reports[0];
        assert_eq!(report.kind, ReportKind::SoftBounce);
        assert_eq!(report.recipient.as_deref(), Some("slow@example.net"));
        assert_eq!(
            report.message_id.as_deref(),
            Some("0196f3a2-aaaa-7d4b-9a51-2f0c8e4b1d77@books.example")
        );
        assert!(
            report.detail.contains("Connection timed out"),
            "{}",
            report.detail
        );
    }

    #[test]
    fn malformed_bodies_say_why() {
        let cases: [(&[u8], &str); 3] = [
            (b"", "not an RFC 5322 message"),
            (
                b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n",
                "not a multipart/report with report-type=delivery-status",
            ),
            (
                b"From: a@example.org\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n--b--\r\n",
                "no message/delivery-status part",
            ),
        ];
        for (body, expected) in cases {
            let error = parse(body).unwrap_err();
            assert!(error.0.contains(expected), "{error}");
        }
    }

    #[test]
    fn status_classes_decide_without_an_action() {
        let group = |status: &str| field_groups(&format!("Status: {status}\n")).remove(0);
        assert_eq!(kind_of(&group("5.2.2")), Some(ReportKind::HardBounce));
        assert_eq!(kind_of(&group("4.2.2")), Some(ReportKind::SoftBounce));
        assert_eq!(kind_of(&group("2.0.0")), None);
        let failed_temporary = field_groups("Action: failed\nStatus: 4.4.7\n").remove(0);
        assert_eq!(kind_of(&failed_temporary), Some(ReportKind::HardBounce));
    }
}
