//! `breach.accounts_affected`: compensates one batch of affected accounts in
//! one transaction, or parks it when its incident is not reported yet.

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_platform::parking;
use candor_proto::events::v1::AccountsAffected;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::validation::{compensation_reason, parse_uuid};
use crate::store::compensation::{self, BatchOutcome};

#[tracing::instrument(skip_all, fields(incident_id, batch_sequence))]
pub(super) async fn handle(pool: &PgPool, message: &IncomingMessage) -> Result<(), HandlerError> {
    let batch: AccountsAffected = message.decode_event()?;
    batch.validate().map_err(HandlerError::invalid)?;
    let (batch_sequence, account_ids) = sequence_and_accounts(&batch)?;
    let span = tracing::Span::current();
    span.record("incident_id", batch.incident_id.as_str());
    span.record("batch_sequence", batch_sequence);
    let incident_id = batch.incident_id.as_str();
    let credit_ids: Vec<Uuid> = account_ids.iter().map(|_| Uuid::now_v7()).collect();
    let reason = compensation_reason(incident_id);

    let mut tx = pool.begin().await?;
    let mut outcome = apply(
        &mut tx,
        incident_id,
        batch_sequence,
        &account_ids,
        &credit_ids,
        &reason,
    )
    .await?;
    if outcome == BatchOutcome::IncidentUnknown {
        // Decide under the incident's lock, so that the handler recording
        // the incident either is seen here or sees the parked batch.
        parking::lock_incident(&mut tx, incident_id).await?;
        outcome = apply(
            &mut tx,
            incident_id,
            batch_sequence,
            &account_ids,
            &credit_ids,
            &reason,
        )
        .await?;
        if outcome == BatchOutcome::IncidentUnknown {
            parking::park(&mut tx, incident_id, &batch_sequence.to_string(), message).await?;
            tx.commit().await?;
            tracing::info!(
                incident_id,
                batch_sequence,
                "batch parked until its incident is reported"
            );
            return Ok(());
        }
    }
    match outcome {
        BatchOutcome::Applied {
            credited,
            already_lifetime,
            skipped,
        } => {
            tx.commit().await?;
            tracing::debug!(
                incident_id,
                batch_sequence,
                credited,
                already_lifetime,
                skipped,
                "batch compensated"
            );
        }
        BatchOutcome::Duplicate | BatchOutcome::IncidentUnknown => {
            tx.rollback().await?;
            tracing::info!(
                incident_id,
                batch_sequence,
                "batch already applied, ignored"
            );
        }
    }
    Ok(())
}

async fn apply(
    tx: &mut sqlx::PgConnection,
    incident_id: &str,
    batch_sequence: i32,
    account_ids: &[Uuid],
    credit_ids: &[Uuid],
    reason: &str,
) -> Result<BatchOutcome, HandlerError> {
    compensation::apply_batch(
        tx,
        incident_id,
        batch_sequence,
        account_ids,
        credit_ids,
        reason,
    )
    .await
    .map_err(HandlerError::Transient)
}

/// The sequence and the sorted account ids of a batch that passed
/// `AccountsAffected::validate` (so neither conversion fails).
fn sequence_and_accounts(batch: &AccountsAffected) -> Result<(i32, Vec<Uuid>), HandlerError> {
    let batch_sequence = i32::try_from(batch.batch_sequence)
        .map_err(|_| HandlerError::invalid("batch_sequence is out of range"))?;
    let mut account_ids = Vec::with_capacity(batch.accounts.len());
    for (index, account) in batch.accounts.iter().enumerate() {
        let id = parse_uuid(&account.account_id).ok_or_else(|| {
            HandlerError::invalid(format!("accounts[{index}].account_id is not a UUID"))
        })?;
        account_ids.push(id);
    }
    account_ids.sort_unstable();
    Ok((batch_sequence, account_ids))
}
