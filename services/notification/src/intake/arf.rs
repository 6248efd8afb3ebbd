//! `POST /delivery-reports/arf`: a feedback report as mailbox providers
//! send it through their feedback loops, a `multipart/report;
//! report-type=feedback-report` (RFC 5965).
//!
//! `Feedback-Type: abuse` is a complaint about each `Original-Rcpt-To`
//! (else each `Removal-Recipient`; many providers redact both, and then the
//! original Message-ID alone says which email); other feedback types
//! (`fraud`, `virus`, `not-spam`, `auth-failure`, `other`) are no complaint
//! by the recipient and are ignored. The report id is the report's own
//! Message-ID and the recipient.

use super::fields::{Report, field_groups};
use super::{Malformed, Parsed, clip_detail, hex_digest, recipient, report_id};
use crate::domain::reports::{DeliveryReport, ReportKind};

/// The `source` of these reports.
pub const SOURCE: &str = "arf";

/// The reports in a feedback report.
pub fn parse(body: &[u8]) -> Result<Parsed, Malformed> {
    let report = Report::parse(body, "feedback-report")?;
    let text = report
        .machine_part(&["feedback-report"])
        .ok_or_else(|| Malformed::new("the report has no message/feedback-report part"))?;
    let groups = field_groups(&text);
    let fields = groups
        .first()
        .ok_or_else(|| Malformed::new("the feedback-report part has no fields"))?;
    let feedback_type = fields
        .get("Feedback-Type")
        .ok_or_else(|| Malformed::new("the feedback report has no Feedback-Type"))?
        .to_ascii_lowercase();
    if feedback_type != "abuse" {
        return Ok(Parsed {
            reports: Vec::new(),
            ignored: 1,
        });
    }
    let mut recipients: Vec<String> = fields
        .all("Original-Rcpt-To")
        .filter_map(recipient)
        .collect();
    if recipients.is_empty() {
        recipients = fields
            .all("Removal-Recipient")
            .filter_map(recipient)
            .collect();
    }
    recipients.sort();
    recipients.dedup();
    let original = report.original_message_id();
    if original.is_none() && recipients.is_empty() {
        return Err(Malformed::new(
            "the feedback report names neither the original Message-ID nor a recipient",
        ));
    }
    let own_id = report
        .own_message_id()
        .unwrap_or_else(|| format!("sha256:{}", hex_digest(body)));
    let detail = clip_detail(&match fields.get("User-Agent") {
        Some(agent) => format!("feedback-type abuse from {agent}"),
        None => "feedback-type abuse".to_owned(),
    });
    let report_of = |address: Option<String>| DeliveryReport {
        source: SOURCE.to_owned(),
        report_id: match &address {
            Some(address) => report_id(&[&own_id, address]),
            None => report_id(&[&own_id]),
        },
        kind: ReportKind::Complaint,
        message_id: original.clone(),
        recipient: address,
        detail: detail.clone(),
        occurred_at: report.date(),
    };
    let reports = if recipients.is_empty() {
        vec![report_of(None)]
    } else {
        recipients.into_iter().map(Some).map(report_of).collect()
    };
    Ok(Parsed {
        reports,
        ignored: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABUSE: &[u8] = include_bytes!("../../tests/fixtures/delivery_reports/arf_abuse.eml");
    const REDACTED: &[u8] =
        include_bytes!("../../tests/fixtures/delivery_reports/arf_redacted.eml");

    #[test]
    fn an_abuse_report_is_a_complaint_about_its_recipient() {
        let parsed = parse(ABUSE).unwrap();
        assert_eq!(parsed.reports.len(), 1);
        let report = &parsed.reports[0];
        assert_eq!(report.source, "arf");
        assert_eq!(report.kind, ReportKind::Complaint);
        assert_eq!(report.recipient.as_deref(), Some("member@example.com"));
        assert_eq!(
            report.message_id.as_deref(),
            Some("0196f3a2-7c1e-7d4b-9a51-2f0c8e4b1d78@books.example")
        );
        assert_eq!(
            report.report_id,
            "fbl-20261125-000123@feedback.example.com/member@example.com"
        );
        assert_eq!(report.detail, "feedback-type abuse from SomeGenerator/1.0");
    }

    #[test]
    fn a_redacted_report_goes_by_message_id_alone() {
        let parsed = parse(REDACTED).unwrap();
        assert_eq!(parsed.reports.len(), 1);
        let report = &parsed.reports[0];
        assert_eq!(report.recipient, None);
        assert_eq!(
            report.message_id.as_deref(),
            Some("0196f3a2-7c1e-7d4b-9a51-2f0c8e4b1d79@books.example")
        );
        assert!(report.report_id.starts_with("sha256:"), "no own Message-ID");
    }

    #[test]
    fn other_feedback_types_are_ignored() {
        let text = String::from_utf8_lossy(ABUSE)
            .replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
        let parsed = parse(text.as_bytes()).unwrap();
        assert!(parsed.reports.is_empty());
        assert_eq!(parsed.ignored, 1);
    }

    #[test]
    fn a_dsn_is_not_a_feedback_report() {
        let dsn = include_bytes!("../../tests/fixtures/delivery_reports/dsn_postfix_hard.eml");
        let error = parse(dsn).unwrap_err();
        assert!(error.0.contains("report-type=feedback-report"), "{error}");
    }
}
