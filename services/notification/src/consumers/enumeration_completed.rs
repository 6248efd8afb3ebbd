//! `breach.enumeration_completed`: the incident's expected totals, so
//! progress can say when every notice was handled.

use candor_platform::messaging::HandlerError;
use candor_platform::time::datetime_or_now;
use candor_proto::events::v1::EnumerationCompleted;

use super::EventHandler;
use crate::store;

impl EventHandler {
    #[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
    pub(super) async fn enumeration_completed(
        &self,
        event: EnumerationCompleted,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::invalid)?;
        let mut connection = self.pool.acquire().await?;
        store::incidents::record_enumeration(
            &mut connection,
            &event.incident_id,
            event.affected_accounts,
            event.batch_count,
            datetime_or_now(event.completed_at.as_ref()),
        )
        .await?;
        tracing::info!(expected = event.affected_accounts, "enumeration recorded");
        Ok(())
    }
}
