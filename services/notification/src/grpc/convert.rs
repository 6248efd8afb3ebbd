//! Between stored rows and the contract's messages: deliveries, states,
//! kinds, timestamps and page tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use candor_proto::notification::v1::{
    Delivery, DeliveryReportKind, DeliveryState, EmailKind, SuppressionReason,
};
use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::reports::ReportKind;
use crate::store::JobKind;
use crate::store::deliveries::{DeliveryRow, Filter};
use candor_platform::grpc::InvalidField;

pub use candor_platform::time::timestamp;

pub fn from_timestamp(
    field: &'static str,
    time: Option<&Timestamp>,
) -> Result<DateTime<Utc>, InvalidField> {
    time.and_then(candor_platform::time::datetime)
        .ok_or_else(|| InvalidField::new(field, "required timestamp is missing or invalid"))
}

pub fn state_name(state: DeliveryState) -> Option<&'static str> {
    match state {
        DeliveryState::Unspecified => None,
        DeliveryState::Queued => Some("queued"),
        DeliveryState::Sending => Some("sending"),
        DeliveryState::Sent => Some("sent"),
        DeliveryState::Failed => Some("failed"),
        DeliveryState::Suppressed => Some("suppressed"),
        DeliveryState::Bounced => Some("bounced"),
        DeliveryState::Complained => Some("complained"),
    }
}

fn state_of(name: &str) -> DeliveryState {
    match name {
        "queued" => DeliveryState::Queued,
        "sending" => DeliveryState::Sending,
        "sent" => DeliveryState::Sent,
        "failed" => DeliveryState::Failed,
        "suppressed" => DeliveryState::Suppressed,
        "bounced" => DeliveryState::Bounced,
        "complained" => DeliveryState::Complained,
        _ => DeliveryState::Unspecified,
    }
}

pub fn kind_name(kind: EmailKind) -> Option<JobKind> {
    match kind {
        EmailKind::Unspecified => None,
        EmailKind::BreachNotice => Some(JobKind::BreachNotice),
        EmailKind::PasswordReset => Some(JobKind::PasswordReset),
        EmailKind::DeactivationConfirmation => Some(JobKind::DeactivationConfirmation),
        EmailKind::PasswordChanged => Some(JobKind::PasswordChanged),
    }
}

fn kind_of(kind: JobKind) -> EmailKind {
    match kind {
        JobKind::BreachNotice => EmailKind::BreachNotice,
        JobKind::PasswordReset => EmailKind::PasswordReset,
        JobKind::DeactivationConfirmation => EmailKind::DeactivationConfirmation,
        JobKind::PasswordChanged => EmailKind::PasswordChanged,
    }
}

pub fn delivery(row: DeliveryRow) -> Delivery {
    let state = state_of(&row.state);
    let suppression_reason = match row.suppression_reason {
        Some(1) => SuppressionReason::AddressSuppressed,
        Some(2) => SuppressionReason::AccountDeactivated,
        Some(3) => SuppressionReason::NoEmailAddress,
        _ => SuppressionReason::Unspecified,
    };
    let report_kind = match ReportKind::parse(row.report_kind.as_deref()) {
        Some(ReportKind::HardBounce) => DeliveryReportKind::HardBounce,
        Some(ReportKind::SoftBounce) => DeliveryReportKind::SoftBounce,
        Some(ReportKind::Complaint) => DeliveryReportKind::Complaint,
        None => DeliveryReportKind::Unspecified,
    };
    Delivery {
        delivery_id: row.job_id.to_string(),
        kind: kind_of(row.kind) as i32,
        incident_id: row.incident_id.unwrap_or_default(),
        account_id: row.account_id.map(|id| id.to_string()).unwrap_or_default(),
        to_address: row.to_address,
        state: state as i32,
        attempts: u32::try_from(row.attempts).unwrap_or_default(),
        last_error: row.last_error.unwrap_or_default(),
        suppression_reason: suppression_reason as i32,
        message_id: row.message_id,
        sent_without_thread_link: row.sent_without_thread_link,
        created_at: Some(timestamp(row.created_at)),
        next_attempt_at: (state == DeliveryState::Queued).then(|| timestamp(row.next_attempt_at)),
        sent_at: row
            .sent_at
            .filter(|_| state == DeliveryState::Sent)
            .map(timestamp),
        updated_at: Some(timestamp(row.updated_at)),
        report_kind: report_kind as i32,
        delivery_report: row.delivery_report.unwrap_or_default(),
        reported_at: row.reported_at.map(timestamp),
        soft_bounces: u32::try_from(row.soft_bounces).unwrap_or_default(),
    }
}

/// The position after the last entry of a page, bound to its filters.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct PageToken {
    created_at_micros: i64,
    job_id: Uuid,
    filter: String,
}

fn fingerprint(filter: &Filter) -> String {
    let text = format!("{filter:?}");
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub fn encode_page_token(filter: &Filter, last: &DeliveryRow) -> String {
    let token = PageToken {
        created_at_micros: last.created_at.timestamp_micros(),
        job_id: last.job_id,
        filter: fingerprint(filter),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

pub fn decode_page_token(
    filter: &Filter,
    token: &str,
) -> Result<Option<(DateTime<Utc>, Uuid)>, InvalidField> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || InvalidField::new("page_token", "not issued for these filters");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: PageToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.filter != fingerprint(filter) {
        return Err(invalid());
    }
    let created_at =
        DateTime::from_timestamp_micros(token.created_at_micros).ok_or_else(invalid)?;
    Ok(Some((created_at, token.job_id)))
}
