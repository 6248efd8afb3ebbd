//! `breach.reported`: records the incident and its compensation, then
//! applies the batches that arrived before it.

use std::time::SystemTime;

use anyhow::Context;
use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_proto::events::v1::{BreachReported, CompensationKind};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::validation::compensation_reason;
use crate::store::compensation::{self, BatchOutcome};
use crate::store::incidents::{self, CompensationTerms, Recorded};

#[tracing::instrument(skip_all, fields(incident_id))]
pub(super) async fn handle(pool: &PgPool, message: &IncomingMessage) -> Result<(), HandlerError> {
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

    let mut tx = pool.begin().await?;
    incidents::lock(&mut tx, &event.incident_id).await?;
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
    drain_parked(pool, &event.incident_id)
        .await
        .map_err(HandlerError::Transient)?;
    Ok(())
}

/// Applies and removes the parked batches of a reported incident, one
/// transaction each. Safe to run concurrently and repeatedly.
pub async fn drain_parked(pool: &PgPool, incident_id: &str) -> anyhow::Result<()> {
    let reason = compensation_reason(incident_id);
    loop {
        let mut tx = pool.begin().await.context("beginning a transaction")?;
        let Some((batch_sequence, account_ids)) =
            compensation::take_parked(&mut tx, incident_id).await?
        else {
            return Ok(());
        };
        let credit_ids: Vec<uuid::Uuid> =
            account_ids.iter().map(|_| uuid::Uuid::now_v7()).collect();
        let outcome = compensation::apply_batch(
            &mut tx,
            incident_id,
            batch_sequence,
            &account_ids,
            &credit_ids,
            &reason,
        )
        .await?;
        match outcome {
            BatchOutcome::IncidentUnknown => {
                anyhow::bail!("incident {incident_id} has parked batches but is not reported")
            }
            BatchOutcome::Duplicate => {
                // Applied from a redelivery meanwhile: just forget it.
                tx.rollback().await.context("rolling back")?;
                let mut tx = pool.begin().await.context("beginning a transaction")?;
                compensation::unpark(&mut tx, incident_id, batch_sequence).await?;
                tx.commit().await.context("committing")?;
            }
            BatchOutcome::Applied { credited, .. } => {
                compensation::unpark(&mut tx, incident_id, batch_sequence).await?;
                tx.commit().await.context("committing")?;
                tracing::info!(
                    incident_id,
                    batch_sequence,
                    credited,
                    "parked batch applied"
                );
            }
        }
    }
}
