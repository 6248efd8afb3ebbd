//! `breach.enumeration_completed`: the expected totals of an incident, so
//! progress can say when everyone was handled.

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_proto::events::v1::EnumerationCompleted;
use sqlx::PgPool;

use crate::store::incidents;

#[tracing::instrument(skip_all, fields(incident_id))]
pub(super) async fn handle(pool: &PgPool, message: &IncomingMessage) -> Result<(), HandlerError> {
    let event: EnumerationCompleted = message.decode_event()?;
    event.validate().map_err(HandlerError::invalid)?;
    tracing::Span::current().record("incident_id", event.incident_id.as_str());
    let expected_total = i64::try_from(event.affected_accounts)
        .map_err(|_| HandlerError::invalid("affected_accounts is out of range"))?;
    let batch_count = i32::try_from(event.batch_count)
        .map_err(|_| HandlerError::invalid("batch_count is out of range"))?;
    let completed_at = candor_platform::time::datetime_or_now(event.completed_at.as_ref());
    let mut conn = pool.acquire().await?;
    let new = incidents::record_enumeration(
        &mut conn,
        &event.incident_id,
        expected_total,
        batch_count,
        completed_at,
    )
    .await?;
    if new {
        tracing::info!(
            incident_id = %event.incident_id,
            expected_total,
            batch_count,
            "enumeration completed"
        );
    }
    Ok(())
}
