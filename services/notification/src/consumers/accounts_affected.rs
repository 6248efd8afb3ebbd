//! `breach.accounts_affected`: one notice job per affected member (with
//! what was held about them, which decides their notice's wording), or the
//! batch parked until its incident is recorded. A member without an email
//! address gets a job SUPPRESSED (NO_EMAIL_ADDRESS), announced on
//! `notification.notice_undelivered` with the batch's other undelivered
//! notices in the batch's transaction (`store::jobs::insert_notices`).

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_platform::parking;
use candor_proto::events::v1::AccountsAffected;
use sqlx::PgConnection;
use tracing::Instrument as _;
use uuid::Uuid;

use super::EventHandler;
use crate::notice::HeldData;
use crate::store::{self, jobs::NewNotice};

impl EventHandler {
    pub(super) async fn accounts_affected(
        &self,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
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
                let held = HeldData::from_event(&account.held_data_classes);
                Some(NewNotice {
                    account_id: Uuid::parse_str(account.account_id.trim()).ok()?,
                    email: account.email.trim().to_owned(),
                    display_name: account.display_name.clone(),
                    content: held.and_then(|held| serde_json::to_value(held).ok()),
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
}
