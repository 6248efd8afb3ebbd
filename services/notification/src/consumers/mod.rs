//! The events this service consumes on its queue, each handled in one
//! transaction that commits before the ack. A batch that arrives before its
//! incident is parked in the platform's incident parking and handed to this
//! same handler once the incident is recorded.

use anyhow::Context as _;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_platform::parking::{IncidentHandler, IncidentParking};
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED,
    FORUM_INCIDENT_THREAD_OPENED,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store;

mod account_deactivated;
mod accounts_affected;
mod breach_reported;
mod enumeration_completed;
mod incident_thread_opened;

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
