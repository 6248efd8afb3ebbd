//! RecordDeliveryReport: a platform-side tool's bounce or complaint,
//! recorded where every delivery report is
//! (`store::reports::record_delivery_report`), then the delivery as it is
//! now.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{
    DeliveryReportKind, RecordDeliveryReportRequest, RecordDeliveryReportResponse,
};

use super::{NotificationApi, convert};
use crate::domain::reports::{DeliveryReport, ReportKind};
use crate::errors::RecordDeliveryReportError;
use crate::store;
use crate::store::reports::{ReportError, ReportOutcome};

pub(super) async fn record_delivery_report(
    api: &NotificationApi,
    request: RecordDeliveryReportRequest,
) -> Result<RecordDeliveryReportResponse, RecordDeliveryReportError> {
    let report = report_of(request)?;
    let result =
        store::reports::record_delivery_report(&api.pool, &report, api.soft_bounce_max_retries)
            .await;
    api.report_metrics
        .count(&report.source, report.kind, &result);
    let (job_id, duplicate) = match result {
        Ok(ReportOutcome::Applied { job_id, .. }) => (job_id, false),
        Ok(ReportOutcome::Duplicate {
            job_id: Some(job_id),
        }) => (job_id, true),
        Ok(ReportOutcome::Duplicate { job_id: None } | ReportOutcome::Unmatched) => {
            return Err(RecordDeliveryReportError::NotFound);
        }
        Err(ReportError::Invalid(invalid)) => {
            return Err(InvalidField::new(invalid.field, invalid.reason).into());
        }
        Err(ReportError::Internal(error)) => return Err(error.into()),
    };
    let mut connection = api.pool.acquire().await.context("acquiring a connection")?;
    let row = store::deliveries::get(&mut connection, job_id)
        .await
        .context("reading the delivery")?
        .with_context(|| format!("job {job_id} vanished"))?;
    Ok(RecordDeliveryReportResponse {
        delivery: Some(convert::delivery(row)),
        duplicate,
    })
}

/// The request as a [`DeliveryReport`]; the fields' own rules are checked
/// where every report's are ([`DeliveryReport::check`]), the enum and the
/// timestamp here.
fn report_of(request: RecordDeliveryReportRequest) -> Result<DeliveryReport, InvalidField> {
    let kind = match DeliveryReportKind::try_from(request.kind) {
        Ok(DeliveryReportKind::HardBounce) => ReportKind::HardBounce,
        Ok(DeliveryReportKind::SoftBounce) => ReportKind::SoftBounce,
        Ok(DeliveryReportKind::Complaint) => ReportKind::Complaint,
        Ok(DeliveryReportKind::Unspecified) | Err(_) => {
            return Err(InvalidField::new(
                "kind",
                "required: HARD_BOUNCE, SOFT_BOUNCE or COMPLAINT",
            ));
        }
    };
    let occurred_at = match &request.occurred_at {
        None => None,
        Some(timestamp) => Some(
            candor_platform::time::datetime(timestamp)
                .ok_or_else(|| InvalidField::new("occurred_at", "not a valid timestamp"))?,
        ),
    };
    Ok(DeliveryReport {
        source: request.source,
        report_id: request.report_id,
        kind,
        message_id: Some(request.message_id).filter(|value| !value.trim().is_empty()),
        recipient: Some(request.recipient).filter(|value| !value.trim().is_empty()),
        detail: request.detail,
        occurred_at,
    })
}
