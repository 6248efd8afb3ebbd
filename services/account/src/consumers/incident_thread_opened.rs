//! `forum.incident_thread_opened`: remembers the incident's forum thread,
//! which the members' security notices link to (`SecurityNotice.thread_url`).
//! The thread may be opened before this service records the incident: it is
//! kept by incident id alone, so nothing waits.

use candor_platform::messaging::HandlerError;
use candor_platform::time::datetime_or_now;
use candor_proto::events::v1::IncidentThreadOpened;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::incident_threads;

#[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
pub(super) async fn handle(pool: &PgPool, event: IncidentThreadOpened) -> Result<(), HandlerError> {
    event.validate().map_err(|error| {
        HandlerError::invalid(format!("invalid forum.incident_thread_opened: {error}"))
    })?;
    let thread_id = Uuid::parse_str(event.thread_id.trim())
        .map_err(|_| HandlerError::invalid("thread_id: must be a UUID"))?;
    let mut connection = pool.acquire().await?;
    let changed = incident_threads::record(
        &mut connection,
        &event.incident_id,
        thread_id,
        event.url.trim(),
        datetime_or_now(event.opened_at.as_ref()),
    )
    .await?;
    tracing::info!(changed, "forum thread recorded");
    Ok(())
}
