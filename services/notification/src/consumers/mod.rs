//! The events this service consumes on its queue, each handled in one
//! transaction that commits before the ack. A batch that arrives before its
//! incident is parked in the platform's incident parking and handed to this
//! same handler once the incident is recorded.

use std::time::SystemTime;

use anyhow::Context as _;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_platform::parking::{self, IncidentHandler, IncidentParking};
use candor_platform::time::datetime_or_now;
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, AccountDeactivated, AccountsAffected, BREACH_ACCOUNTS_AFFECTED,
    BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED, BreachReported, EnumerationCompleted,
    FORUM_INCIDENT_THREAD_OPENED, IncidentThreadOpened,
};
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::store::jobs::NewNotice;
use crate::store::{self, incidents::RecordOutcome};

/// Handles every routing key bound to the notification queue.
pub struct EventHandler {
    pool: PgPool,
    parking: IncidentParking,
    message_id_domain: String,
    thread_wait_seconds: f64,
}

impl EventHandler {
    pub fn new(
        pool: PgPool,
        parking: IncidentParking,
        message_id_domain: String,
        thread_wait_seconds: f64,
    ) -> Self {
        Self {
            pool,
            parking,
            message_id_domain,
            thread_wait_seconds,
        }
    }

    #[tracing::instrument(skip_all, fields(incident_id = %report.incident_id))]
    async fn breach_reported(&self, report: BreachReported) -> Result<(), HandlerError> {
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

    async fn accounts_affected(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        let batch: AccountsAffected = message.decode_event()?;
        self.record_batch(&batch, message)
            .instrument(tracing::info_span!(
                "accounts_affected",
                incident_id = %batch.incident_id,
                batch_sequence = batch.batch_sequence
            ))
            .await
    }

    async fn record_batch(
        &self,
        batch: &AccountsAffected,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        batch.validate().map_err(HandlerError::invalid)?;
        let mut transaction = self.pool.begin().await?;
        parking::lock_incident(&mut transaction, &batch.incident_id).await?;
        let known = store::incidents::load_report(&mut transaction, &batch.incident_id)
            .await?
            .is_some();
        if !known {
            parking::park(
                &mut transaction,
                &batch.incident_id,
                &batch.batch_sequence.to_string(),
                message,
            )
            .await?;
            transaction.commit().await?;
            tracing::info!("batch parked until the incident is reported");
            return Ok(());
        }
        let created = self.insert_batch(&mut transaction, batch).await?;
        transaction.commit().await?;
        tracing::debug!(jobs_created = created, "batch recorded");
        Ok(())
    }

    async fn insert_batch(
        &self,
        connection: &mut PgConnection,
        batch: &AccountsAffected,
    ) -> Result<u64, HandlerError> {
        let notices: Vec<NewNotice> = batch
            .accounts
            .iter()
            .filter_map(|account| {
                Some(NewNotice {
                    account_id: Uuid::parse_str(account.account_id.trim()).ok()?,
                    email: account.email.trim().to_owned(),
                    display_name: account.display_name.clone(),
                })
            })
            .collect();
        Ok(store::jobs::insert_notices(
            connection,
            &batch.incident_id,
            &notices,
            &self.message_id_domain,
            self.thread_wait_seconds,
        )
        .await?)
    }

    #[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
    async fn thread_opened(&self, event: IncidentThreadOpened) -> Result<(), HandlerError> {
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

    #[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
    async fn enumeration_completed(&self, event: EnumerationCompleted) -> Result<(), HandlerError> {
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

    #[tracing::instrument(skip_all, fields(account_id = %event.account_id))]
    async fn account_deactivated(&self, event: AccountDeactivated) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::invalid)?;
        let account_id = parse_uuid("account_id", &event.account_id)?;
        let mut transaction = self.pool.begin().await?;
        let suppressed = store::incidents::record_deactivation(
            &mut transaction,
            account_id,
            datetime_or_now(event.deactivated_at.as_ref()),
        )
        .await?;
        transaction.commit().await?;
        tracing::info!(suppressed, "deactivation recorded");
        Ok(())
    }
}

impl MessageHandler for EventHandler {
    async fn handle(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        match message.routing_key.as_str() {
            BREACH_REPORTED => self.breach_reported(message.decode_event()?).await,
            BREACH_ACCOUNTS_AFFECTED => self.accounts_affected(message).await,
            FORUM_INCIDENT_THREAD_OPENED => self.thread_opened(message.decode_event()?).await,
            BREACH_ENUMERATION_COMPLETED => {
                self.enumeration_completed(message.decode_event()?).await
            }
            ACCOUNT_DEACTIVATED => self.account_deactivated(message.decode_event()?).await,
            other => Err(HandlerError::invalid(format!(
                "routing key {other:?} is not consumed by the notification service"
            ))),
        }
    }
}

impl IncidentHandler for EventHandler {
    async fn incident_known(&self, incident_id: &str) -> anyhow::Result<bool> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let report = store::incidents::load_report(&mut connection, incident_id)
            .await
            .context("reading the incident")?;
        Ok(report.is_some())
    }
}

/// A UUID the event's validation accepted (surrounding blanks ignored).
fn parse_uuid(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value.trim())
        .map_err(|_| HandlerError::invalid(format!("{field}: must be a UUID")))
}
