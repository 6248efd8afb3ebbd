//! AcknowledgeNotice: the calling member read one of their security
//! notices. Idempotent: the first acknowledgement's time stays, and only
//! that one is counted (`candor_account_notices_acknowledged_total`).

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{AcknowledgeNoticeRequest, AcknowledgeNoticeResponse};
use tonic::Request;

use super::Shared;
use super::caller::member_session;
use super::list_notices::security_notice;
use crate::domain::validation::INCIDENT_ID;
use crate::errors::AcknowledgeNoticeError;
use crate::store::notices;

#[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id))]
pub async fn acknowledge_notice(
    shared: &Shared,
    request: Request<AcknowledgeNoticeRequest>,
) -> Result<AcknowledgeNoticeResponse, AcknowledgeNoticeError> {
    let mut conn = shared.connection().await?;
    let session = member_session(&mut conn, request.metadata()).await?;
    let incident_id = request.into_inner().incident_id;
    INCIDENT_ID
        .check_verbatim(&incident_id)
        .map_err(|reason| InvalidField::new("incident_id", reason))?;
    let first = notices::acknowledge(&mut conn, session.account_id, &incident_id)
        .await
        .context("acknowledging the notice")?;
    if let Some(reason) = first {
        shared.notice_metrics.acknowledged(reason);
        tracing::info!(account_id = %session.account_id, "notice acknowledged");
    }
    let row = notices::find_for_member(&mut conn, session.account_id, &incident_id)
        .await
        .context("reading the notice")?
        .ok_or(AcknowledgeNoticeError::NoticeNotFound(incident_id))?;
    Ok(AcknowledgeNoticeResponse {
        notice: Some(security_notice(row)?),
    })
}
