//! `breach.reported`: the incident is recorded (its notice is rendered from
//! it), then the batches parked before it are applied.

use std::time::SystemTime;

use candor_platform::messaging::HandlerError;
use candor_platform::parking;
use candor_proto::events::v1::BreachReported;
use prost::Message as _;

use super::EventHandler;
use crate::store::{self, incidents::RecordOutcome};

impl EventHandler {
    #[tracing::instrument(skip_all, fields(incident_id = %report.incident_id))]
    pub(super) async fn breach_reported(&self, report: BreachReported) -> Result<(), HandlerError> {
        report
            .validate(SystemTime::now())
            .map_err(HandlerError::invalid)?;
        let mut transaction = self.pool.begin().await?;
        parking::lock_incident(&mut transaction, &report.incident_id).await?;
        let outcome = store::incidents::record(
            &mut transaction,
            &report.incident_id,
            &report.encode_to_vec(),
        )
        .await?;
        if outcome == RecordOutcome::Conflict {
            return Err(HandlerError::invalid(format!(
                "incident {:?} was already reported with different content",
                report.incident_id
            )));
        }
        transaction.commit().await?;
        // The batches that arrived first, through `accounts_affected`, each
        // in a transaction of its own (the incident is committed by now).
        let drained = self.parking.drain(&report.incident_id, self).await?;
        tracing::info!(outcome = ?outcome, unparked_batches = drained.applied, dead_lettered = drained.dead_lettered, "incident recorded");
        Ok(())
    }
}
