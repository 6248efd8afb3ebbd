//! RetryFailedNotices: an incident's notices that failed for a passing
//! cause (retries exhausted while the SMTP server was unreachable or busy)
//! are queued again, once the operator has fixed the cause.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{RetryFailedNoticesRequest, RetryFailedNoticesResponse};

use super::NotificationApi;
use crate::domain::validation::INCIDENT_ID;
use crate::errors::RetryFailedNoticesError;
use crate::store;

pub(super) async fn retry_failed_notices(
    api: &NotificationApi,
    request: RetryFailedNoticesRequest,
) -> Result<RetryFailedNoticesResponse, RetryFailedNoticesError> {
    InvalidField::check("incident_id", &request.incident_id, INCIDENT_ID)?;
    let mut connection = api.pool.acquire().await.context("acquiring a connection")?;
    store::incidents::load_report(&mut connection, &request.incident_id)
        .await
        .context("reading the incident")?
        .ok_or_else(|| RetryFailedNoticesError::IncidentNotFound(request.incident_id.clone()))?;
    let requeued = store::failures::requeue_retryable(&mut connection, &request.incident_id)
        .await
        .context("queuing the failed notices again")?;
    if requeued.requeued > 0 {
        // No longer settled: shown in the metrics again.
        store::progress::clear_settled(&mut connection, &request.incident_id)
            .await
            .context("recording that the notices are unsettled")?;
        api.wake.notify_one();
    }
    tracing::info!(
        incident_id = %request.incident_id,
        requeued = requeued.requeued,
        refused = requeued.refused,
        unsendable = requeued.unsendable,
        deactivated = requeued.deactivated,
        "failed notices queued again"
    );
    let count = |value: i64| u64::try_from(value).unwrap_or_default();
    Ok(RetryFailedNoticesResponse {
        incident_id: request.incident_id,
        requeued: count(requeued.requeued),
        not_retryable_refused: count(requeued.refused),
        not_retryable_unsendable: count(requeued.unsendable),
        not_retryable_deactivated: count(requeued.deactivated),
    })
}
