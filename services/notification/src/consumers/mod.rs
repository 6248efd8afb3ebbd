//! The events this service consumes on its queue, each handled in one
//! transaction that commits before the ack.

use std::time::SystemTime;

use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, AccountDeactivated, AccountsAffected, BREACH_ACCOUNTS_AFFECTED,
    BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED, BreachReported, EnumerationCompleted,
    FORUM_INCIDENT_THREAD_OPENED, IncidentThreadOpened,
};
use chrono::{DateTime, Utc};
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::store::jobs::NewNotice;
use crate::store::{self, incidents::RecordOutcome};

/// Handles every routing key bound to the notification queue.
pub struct EventHandler {
    pool: PgPool,
    message_id_domain: String,
    thread_wait_seconds: f64,
}

impl EventHandler {
    pub fn new(pool: PgPool, message_id_domain: String, thread_wait_seconds: f64) -> Self {
        Self {
            pool,
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
        store::lock_incident(&mut transaction, &report.incident_id).await?;
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
        let parked =
            store::incidents::take_parked_batches(&mut transaction, &report.incident_id).await?;
        let mut created = 0;
        for bytes in &parked {
            let batch = AccountsAffected::decode(bytes.as_slice()).map_err(|error| {
                HandlerError::transient(anyhow::anyhow!("parked batch: {error}"))
            })?;
            created += self.insert_batch(&mut transaction, &batch).await?;
        }
        transaction.commit().await?;
        tracing::info!(outcome = ?outcome, unparked_batches = parked.len(), jobs_created = created, "incident recorded");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(incident_id = %batch.incident_id, batch_sequence = batch.batch_sequence))]
    async fn accounts_affected(&self, batch: AccountsAffected) -> Result<(), HandlerError> {
        validate_batch(&batch)?;
        let mut transaction = self.pool.begin().await?;
        store::lock_incident(&mut transaction, &batch.incident_id).await?;
        let known = store::incidents::load_report(&mut transaction, &batch.incident_id)
            .await?
            .is_some();
        if !known {
            store::incidents::park_batch(
                &mut transaction,
                &batch.incident_id,
                batch.batch_sequence,
                &batch.encode_to_vec(),
            )
            .await?;
            transaction.commit().await?;
            tracing::info!("batch parked until the incident is reported");
            return Ok(());
        }
        let created = self.insert_batch(&mut transaction, &batch).await?;
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
                    account_id: Uuid::parse_str(&account.account_id).ok()?,
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
        let thread_id = parse_uuid("thread_id", &event.thread_id)?;
        let url = event.url.trim();
        if event.incident_id.is_empty()
            || !(url.starts_with("https://") || url.starts_with("http://"))
            || url.len() > 2048
        {
            return Err(HandlerError::invalid(
                "incident_id must be set and url an absolute http(s) URL of at most 2048 characters",
            ));
        }
        // Under the incident's lock, so a batch being inserted concurrently
        // either sees the thread or is released by this transaction.
        let mut transaction = self.pool.begin().await?;
        store::lock_incident(&mut transaction, &event.incident_id).await?;
        let released = store::incidents::record_thread(
            &mut transaction,
            &event.incident_id,
            thread_id,
            url,
            timestamp(event.opened_at.as_ref()),
        )
        .await?;
        transaction.commit().await?;
        tracing::info!(released, "forum thread recorded");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(incident_id = %event.incident_id))]
    async fn enumeration_completed(&self, event: EnumerationCompleted) -> Result<(), HandlerError> {
        if event.incident_id.is_empty() {
            return Err(HandlerError::invalid("incident_id: must be set"));
        }
        let mut connection = self.pool.acquire().await?;
        store::incidents::record_enumeration(
            &mut connection,
            &event.incident_id,
            event.affected_accounts,
            event.batch_count,
            timestamp(event.completed_at.as_ref()),
        )
        .await?;
        tracing::info!(expected = event.affected_accounts, "enumeration recorded");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account_id = %event.account_id))]
    async fn account_deactivated(&self, event: AccountDeactivated) -> Result<(), HandlerError> {
        let account_id = parse_uuid("account_id", &event.account_id)?;
        let mut transaction = self.pool.begin().await?;
        let suppressed = store::incidents::record_deactivation(
            &mut transaction,
            account_id,
            timestamp(event.deactivated_at.as_ref()),
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
            BREACH_ACCOUNTS_AFFECTED => self.accounts_affected(message.decode_event()?).await,
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

fn validate_batch(batch: &AccountsAffected) -> Result<(), HandlerError> {
    if batch.incident_id.is_empty() {
        return Err(HandlerError::invalid("incident_id: must be set"));
    }
    if batch.accounts.is_empty() || batch.accounts.len() > 1000 {
        return Err(HandlerError::invalid(
            "accounts: must hold 1..=1000 entries",
        ));
    }
    for (index, account) in batch.accounts.iter().enumerate() {
        parse_uuid(
            &format!("accounts[{index}].account_id"),
            &account.account_id,
        )?;
        let email = account.email.trim();
        if email.len() < 3 || email.len() > 254 || !email.contains('@') {
            return Err(HandlerError::invalid(format!(
                "accounts[{index}].email: must be an address of 3..=254 characters"
            )));
        }
    }
    Ok(())
}

fn parse_uuid(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value).map_err(|_| HandlerError::invalid(format!("{field}: must be a UUID")))
}

fn timestamp(value: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    value
        .and_then(|time| {
            DateTime::from_timestamp(time.seconds, u32::try_from(time.nanos).unwrap_or_default())
        })
        .unwrap_or_else(Utc::now)
}
