//! Breach intake: consumes `breach.reported`, records the incident, freezes
//! the affected set, applies the password rule and streams the set out as
//! AccountsAffected batches plus one EnumerationCompleted, all through the
//! outbox.
//!
//! Two phases, each resumable: recording and freezing is one transaction
//! (all or nothing); publishing then moves a cursor (`batches_enqueued`) a
//! few batches per transaction. The message is acked only after both, so a
//! crash anywhere means a redelivery that finds the incident recorded with
//! the same content and continues from the cursor.
//!
//! The affected set is every active account that joined before the cutoff,
//! with an email address or without one (since API 1.1.0): a member without
//! one is frozen with an empty `email`, published without
//! DATA_CLASS_EMAIL_ADDRESS, and their in-app notice is raised by the
//! freeze itself.

use std::time::{Instant, SystemTime};

use anyhow::Context as _;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_platform::outbox;
use candor_platform::parking;
use candor_proto::events::v1::{
    AccountsAffected, AffectedAccount, BreachReported, EnumerationCompleted, PasswordResetScope,
};
use chrono::Utc;
use prost::Message as _;
use sqlx::PgPool;

use crate::convert::{from_timestamp, held_data_classes, timestamp};
use crate::store::incidents::{self, PasswordRule};

/// Batches written to the outbox per transaction: bounds memory (about
/// 5,000 rows) while keeping commits few.
const BATCHES_PER_TRANSACTION: i32 = 10;

/// The `breach.reported` handler.
#[derive(Debug, Clone)]
pub struct BreachIntake {
    pool: PgPool,
}

impl MessageHandler for BreachIntake {
    async fn handle(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        let event: BreachReported = message.decode_event()?;
        self.process(event).await
    }
}

impl BreachIntake {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Validates, records (or recognises) and publishes one incident.
    #[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
    pub async fn process(&self, event: BreachReported) -> Result<(), HandlerError> {
        event
            .validate(SystemTime::now())
            .map_err(|error| HandlerError::invalid(format!("invalid breach.reported: {error}")))?;
        self.record(&event).await?;
        let started = Instant::now();
        self.publish(&event.incident_id)
            .await
            .map_err(HandlerError::transient)?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis(),
            "every batch and EnumerationCompleted in the outbox"
        );
        Ok(())
    }

    async fn record(&self, event: &BreachReported) -> Result<(), HandlerError> {
        let cutoff = event
            .affected_joined_before
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| HandlerError::invalid("affected_joined_before: out of range"))?;
        let scope = PasswordResetScope::try_from(event.password_reset_scope)
            .map_err(|_| HandlerError::invalid("password_reset_scope: unknown value"))?;
        let encoded = event.encode_to_vec();
        let mut tx = self.pool.begin().await.map_err(HandlerError::transient)?;
        // A notice report deciding to park takes the same lock: it either
        // sees this incident or is parked before the drain that follows.
        parking::lock_incident(&mut tx, &event.incident_id)
            .await
            .map_err(HandlerError::transient)?;
        let inserted =
            incidents::insert(&mut tx, &event.incident_id, &encoded, cutoff, scope as i32)
                .await
                .map_err(HandlerError::transient)?;
        if !inserted {
            let recorded = incidents::find(&mut tx, &event.incident_id)
                .await
                .map_err(HandlerError::transient)?
                .ok_or_else(|| HandlerError::transient(anyhow::anyhow!("incident vanished")))?;
            if recorded.event != encoded {
                return Err(HandlerError::invalid(format!(
                    "conflict: incident_id {} was already recorded with different content",
                    event.incident_id
                )));
            }
            tracing::info!("incident already recorded, resuming publication");
            return Ok(());
        }
        let rule = PasswordRule {
            invalidate_affected: matches!(
                scope,
                PasswordResetScope::Affected | PasswordResetScope::All
            ),
            others_must_change: scope == PasswordResetScope::All,
        };
        let started = Instant::now();
        incidents::freeze(&mut tx, &event.incident_id, cutoff, rule)
            .await
            .map_err(HandlerError::transient)?;
        tx.commit().await.map_err(HandlerError::transient)?;
        tracing::info!(
            ?scope,
            elapsed_ms = started.elapsed().as_millis(),
            "incident recorded and affected set frozen"
        );
        Ok(())
    }

    /// Enqueues the remaining batches, then EnumerationCompleted.
    async fn publish(&self, incident_id: &str) -> anyhow::Result<()> {
        while self.publish_step(incident_id).await? {}
        Ok(())
    }

    /// One transaction of publishing; `false` once everything is enqueued.
    async fn publish_step(&self, incident_id: &str) -> anyhow::Result<bool> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning a publish step")?;
        let incident = incidents::lock(&mut tx, incident_id)
            .await
            .context("locking the incident")?
            .context("the incident is not recorded")?;
        if incident.batches_enqueued < incident.batch_count {
            let first = incident.batches_enqueued + 1;
            let last =
                (incident.batches_enqueued + BATCHES_PER_TRANSACTION).min(incident.batch_count);
            let rows = incidents::batches(&mut tx, incident_id, first, last)
                .await
                .context("reading affected batches")?;
            let mut sequences = Vec::new();
            let mut message_ids = Vec::new();
            for chunk in rows.chunk_by(|a, b| a.batch_sequence == b.batch_sequence) {
                let Some(sequence) = chunk.first().map(|row| row.batch_sequence) else {
                    continue;
                };
                let event = AccountsAffected {
                    incident_id: incident_id.to_owned(),
                    batch_sequence: u32::try_from(sequence).unwrap_or_default(),
                    accounts: chunk
                        .iter()
                        .map(|row| AffectedAccount {
                            account_id: row.account_id.to_string(),
                            email: row.email.clone(),
                            display_name: row.display_name.clone(),
                            joined_at: Some(timestamp(row.joined_at)),
                            held_data_classes: held_data_classes(
                                &row.email,
                                &row.display_name,
                                row.had_password_hash,
                            ),
                        })
                        .collect(),
                };
                let message_id = outbox::enqueue_event(&mut tx, &event)
                    .await
                    .context("enqueueing AccountsAffected")?;
                sequences.push(sequence);
                message_ids.push(message_id);
            }
            incidents::record_batches_enqueued(
                &mut tx,
                incident_id,
                &sequences,
                &message_ids,
                last,
            )
            .await
            .context("advancing the publish cursor")?;
            tx.commit().await.context("committing a publish step")?;
            return Ok(true);
        }
        if incident.completed_at.is_none() {
            let completed_at = Utc::now();
            let event = EnumerationCompleted {
                incident_id: incident_id.to_owned(),
                affected_accounts: u64::try_from(incident.affected_accounts).unwrap_or_default(),
                batch_count: u32::try_from(incident.batch_count).unwrap_or_default(),
                passwords_invalidated: u64::try_from(incident.passwords_invalidated)
                    .unwrap_or_default(),
                other_accounts_change_required: u64::try_from(
                    incident.other_accounts_change_required,
                )
                .unwrap_or_default(),
                sessions_revoked: u64::try_from(incident.sessions_revoked).unwrap_or_default(),
                completed_at: Some(timestamp(completed_at)),
            };
            let message_id = outbox::enqueue_event(&mut tx, &event)
                .await
                .context("enqueueing EnumerationCompleted")?;
            incidents::record_completed(&mut tx, incident_id, completed_at, message_id)
                .await
                .context("recording completion")?;
            tx.commit().await.context("committing completion")?;
            tracing::info!(
                affected_accounts = incident.affected_accounts,
                batch_count = incident.batch_count,
                "enumeration completed"
            );
        }
        Ok(false)
    }
}
