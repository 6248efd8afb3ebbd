//! GetIncidentProgress: how far an incident's notices have come, with the
//! send rate of the last minute and an estimated completion; whether they
//! settled, and with which failures.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{
    FailureClass, FailureGroup, GetIncidentProgressRequest, GetIncidentProgressResponse,
};
use sqlx::PgPool;

use super::convert;
use crate::domain::validation::INCIDENT_ID;
use crate::errors::GetIncidentProgressError;
use crate::store;
use crate::store::failures::{self, FailureGroupRow};

/// Failure groups returned at most (the proto promises 20).
const MAX_FAILURE_GROUPS: i64 = 20;

pub(super) async fn get_incident_progress(
    pool: &PgPool,
    request: GetIncidentProgressRequest,
) -> Result<GetIncidentProgressResponse, GetIncidentProgressError> {
    InvalidField::check("incident_id", &request.incident_id, INCIDENT_ID)?;
    let mut connection = pool.acquire().await.context("acquiring a connection")?;
    let row = store::progress::incident(&mut connection, &request.incident_id)
        .await
        .context("reading the incident's progress")?;
    if !row.incident_known {
        return Err(GetIncidentProgressError::IncidentNotFound(
            request.incident_id,
        ));
    }
    let failure_groups = if row.failed > 0 {
        failures::groups(&mut connection, &request.incident_id, MAX_FAILURE_GROUPS)
            .await
            .context("grouping the incident's failures")?
            .into_iter()
            .map(failure_group)
            .collect()
    } else {
        Vec::new()
    };
    let count = |value: i64| u64::try_from(value).unwrap_or_default();
    let window = row
        .first_sent_at
        .map(|first| (row.now - first).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(60.0)
        .clamp(1.0, 60.0);
    let rate = row.sent_last_minute as f64 / window;
    let expected = row.expected_total.map(count);
    let finished = count(row.finished());
    let settled = row.settled();
    // Delivered (SENT, or COMPLAINED: the member got it) or suppressed on
    // purpose; a FAILED or BOUNCED notice did not reach its member.
    let complete = settled && row.failed == 0 && row.bounced == 0;
    let estimated_completion_at = match expected {
        Some(expected) if rate > 0.0 && !settled && expected > finished => {
            let seconds = (expected - finished) as f64 / rate;
            chrono::Duration::try_milliseconds((seconds * 1000.0) as i64)
                .map(|left| convert::timestamp(row.now + left))
        }
        _ => None,
    };
    Ok(GetIncidentProgressResponse {
        incident_id: request.incident_id,
        incident_known: row.incident_known,
        enumeration_complete: expected.is_some(),
        expected_total: expected.unwrap_or_default(),
        queued: count(row.queued),
        sending: count(row.sending),
        sent: count(row.sent),
        failed: count(row.failed),
        suppressed: count(row.suppressed),
        sent_without_thread_link: count(row.sent_without_thread_link),
        possibly_resent: count(row.possibly_resent),
        thread_url: row.thread_url.unwrap_or_default(),
        send_rate_per_second: rate,
        estimated_completion_at,
        first_sent_at: row.first_sent_at.map(convert::timestamp),
        last_sent_at: row.last_sent_at.map(convert::timestamp),
        complete,
        settled,
        retrying: count(row.retrying),
        failed_retryable: count(row.failed_retryable),
        failure_groups,
        bounced: count(row.bounced),
        complained: count(row.complained),
        no_email_address: count(row.no_email_address),
        soft_bounced: count(row.soft_bounced),
        last_delivered_at: row.last_delivered_at.map(convert::timestamp),
    })
}

fn failure_group(row: FailureGroupRow) -> FailureGroup {
    let class = failures::FailureClass::parse(row.failure_class.as_deref());
    FailureGroup {
        failure_class: match class {
            Some(failures::FailureClass::RetriesExhausted) => FailureClass::RetriesExhausted,
            Some(failures::FailureClass::Refused) => FailureClass::Refused,
            Some(failures::FailureClass::Unsendable) => FailureClass::Unsendable,
            None => FailureClass::Unspecified,
        } as i32,
        reason: row.reason.unwrap_or_default(),
        count: u64::try_from(row.count).unwrap_or_default(),
        retryable: class.is_some_and(failures::FailureClass::retryable),
    }
}
