//! `breach.reported`: records the incident and its compensation, then
//! applies the batches parked before it arrived.

use std::time::SystemTime;

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_platform::parking;
use candor_proto::events::v1::{BreachReported, CompensationKind};
use prost::Message;
use sha2::{Digest, Sha256};

use super::MembershipEvents;
use crate::store::incidents::{self, CompensationTerms, Recorded};

#[tracing::instrument(skip_all, fields(incident_id))]
pub(super) async fn handle(
    events: &MembershipEvents,
    message: &IncomingMessage,
) -> Result<(), HandlerError> {
    let event: BreachReported = message.decode_event()?;
    event
        .validate(SystemTime::now())
        .map_err(HandlerError::invalid)?;
    tracing::Span::current().record("incident_id", event.incident_id.as_str());
    let compensation = event
        .compensation
        .as_ref()
        .ok_or_else(|| HandlerError::invalid("compensation is required"))?;
    let terms = CompensationTerms {
        kind: i16::try_from(compensation.kind)
            .map_err(|_| HandlerError::invalid("compensation.kind is out of range"))?,
        value_minor_units: compensation.value_minor_units,
        currency: compensation.currency.clone(),
        duration_days: i32::try_from(compensation.duration_days)
            .map_err(|_| HandlerError::invalid("compensation.duration_days is out of range"))?,
        description: compensation.description.clone(),
    };
    let fingerprint = Sha256::digest(event.encode_to_vec());

    let mut tx = events.pool.begin().await?;
    parking::lock_incident(&mut tx, &event.incident_id).await?;
    let recorded =
        incidents::record_reported(&mut tx, &event.incident_id, &fingerprint, &terms).await?;
    if recorded == Recorded::Conflict {
        return Err(HandlerError::invalid(format!(
            "incident {} was already reported with different content",
            event.incident_id
        )));
    }
    tx.commit().await?;
    if recorded == Recorded::New {
        tracing::info!(
            incident_id = %event.incident_id,
            compensation = ?CompensationKind::try_from(compensation.kind).unwrap_or_default(),
            "incident recorded"
        );
    }
    // The batches that arrived first, through the batch handler, in
    // transactions of their own (the incident is committed by now).
    let drained = events.parking.drain(&event.incident_id, events).await?;
    if drained.applied + drained.dead_lettered > 0 {
        tracing::info!(
            incident_id = %event.incident_id,
            applied = drained.applied,
            dead_lettered = drained.dead_lettered,
            "parked batches applied"
        );
    }
    Ok(())
}
