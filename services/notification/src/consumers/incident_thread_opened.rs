//! `forum.incident_thread_opened`: the thread's link, which breach notices
//! waiting for it are released with.

use candor_platform::messaging::HandlerError;
use candor_platform::parking;
use candor_platform::time::datetime_or_now;
use candor_proto::events::v1::IncidentThreadOpened;

use super::{EventHandler, parse_uuid};
use crate::store;

impl EventHandler {
    #[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
    pub(super) async fn thread_opened(
        &self,
        event: IncidentThreadOpened,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::invalid)?;
        let thread_id = parse_uuid("thread_id", &event.thread_id)?;
        let url = event.url.trim();
        // Under the incident's lock, so a batch being inserted concurrently
        // either sees the thread or is released by this transaction.
        let mut transaction = self.pool.begin().await?;
        parking::lock_incident(&mut transaction, &event.incident_id).await?;
        let released = store::incidents::record_thread(
            &mut transaction,
            &event.incident_id,
            thread_id,
            url,
            datetime_or_now(event.opened_at.as_ref()),
        )
        .await?;
        transaction.commit().await?;
        tracing::info!(released, "forum thread recorded");
        Ok(())
    }
}
