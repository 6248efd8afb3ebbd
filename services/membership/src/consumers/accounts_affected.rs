//! `breach.accounts_affected`: compensates one batch of affected accounts in
//! one transaction, or parks it when its incident is not reported yet.

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_proto::events::v1::AccountsAffected;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::validation::{compensation_reason, parse_uuid};
use crate::store::compensation::{self, BatchOutcome};
use crate::store::incidents;

/// Most accounts one batch may carry (the contract's bound).
const MAX_BATCH_ACCOUNTS: usize = 1000;

#[tracing::instrument(skip_all, fields(incident_id, batch_sequence))]
pub(super) async fn handle(pool: &PgPool, message: &IncomingMessage) -> Result<(), HandlerError> {
    let batch: AccountsAffected = message.decode_event()?;
    let (batch_sequence, account_ids) = validate(&batch)?;
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
        incidents::lock(&mut tx, incident_id).await?;
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
            compensation::park(&mut tx, incident_id, batch_sequence, &account_ids).await?;
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

/// The batch's sequence and distinct account ids, or why it is invalid.
fn validate(batch: &AccountsAffected) -> Result<(i32, Vec<Uuid>), HandlerError> {
    if batch.incident_id.is_empty() || batch.incident_id.chars().count() > 64 {
        return Err(HandlerError::invalid(
            "incident_id must be 1..=64 characters",
        ));
    }
    let batch_sequence = i32::try_from(batch.batch_sequence)
        .ok()
        .filter(|sequence| *sequence >= 1)
        .ok_or_else(|| HandlerError::invalid("batch_sequence must be >= 1"))?;
    if batch.accounts.is_empty() || batch.accounts.len() > MAX_BATCH_ACCOUNTS {
        return Err(HandlerError::invalid(format!(
            "accounts must hold 1..={MAX_BATCH_ACCOUNTS} entries, got {}",
            batch.accounts.len()
        )));
    }
    let mut account_ids = Vec::with_capacity(batch.accounts.len());
    for (index, account) in batch.accounts.iter().enumerate() {
        let id = parse_uuid(&account.account_id).ok_or_else(|| {
            HandlerError::invalid(format!("accounts[{index}].account_id is not a UUID"))
        })?;
        account_ids.push(id);
    }
    account_ids.sort_unstable();
    let distinct = account_ids.len();
    account_ids.dedup();
    if account_ids.len() != distinct {
        return Err(HandlerError::invalid(
            "accounts holds the same account_id twice",
        ));
    }
    Ok((batch_sequence, account_ids))
}
