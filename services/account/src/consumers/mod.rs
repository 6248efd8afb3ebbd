//! The account queue, one file per routing key: `breach.reported`
//! ([`breach_reported`]: the incident and its affected set),
//! `notification.notice_undelivered` ([`notice_undelivered`]: a member's
//! in-app notice) and `forum.incident_thread_opened`
//! ([`incident_thread_opened`]: the thread the notices link to).
//! [`AccountEvents`] dispatches on the routing key; a notice report that
//! arrives before its incident is parked in the platform's incident
//! parking and applied through it once the incident is recorded.

use std::sync::Arc;

use anyhow::Context as _;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_platform::parking::{IncidentHandler, IncidentParking};
use candor_proto::events::v1::{
    BREACH_REPORTED, BreachReported, FORUM_INCIDENT_THREAD_OPENED, NOTIFICATION_NOTICE_UNDELIVERED,
};
use sqlx::PgPool;

pub mod breach_reported;
mod incident_thread_opened;
mod notice_undelivered;

pub use breach_reported::BreachIntake;

use crate::store::incidents;

/// Handles every routing key bound to the account queue.
pub struct AccountEvents {
    pool: PgPool,
    intake: BreachIntake,
    parking: IncidentParking,
}

impl AccountEvents {
    pub fn new(pool: PgPool, parking: IncidentParking) -> Arc<Self> {
        Arc::new(Self {
            intake: BreachIntake::new(pool.clone()),
            pool,
            parking,
        })
    }

    /// Records and publishes the incident, then applies the reports parked
    /// before it was recorded (in transactions of their own).
    async fn breach_reported(&self, event: BreachReported) -> Result<(), HandlerError> {
        let incident_id = event.incident_id.clone();
        self.intake.process(event).await?;
        let drained = self.parking.drain(&incident_id, self).await?;
        if drained.applied + drained.dead_lettered > 0 {
            tracing::info!(
                incident_id,
                applied = drained.applied,
                dead_lettered = drained.dead_lettered,
                "parked notice reports applied"
            );
        }
        Ok(())
    }
}

impl MessageHandler for AccountEvents {
    async fn handle(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        match message.routing_key.as_str() {
            BREACH_REPORTED => self.breach_reported(message.decode_event()?).await,
            NOTIFICATION_NOTICE_UNDELIVERED => {
                notice_undelivered::handle(&self.pool, message).await
            }
            FORUM_INCIDENT_THREAD_OPENED => {
                incident_thread_opened::handle(&self.pool, message.decode_event()?).await
            }
            other => Err(HandlerError::invalid(format!(
                "routing key {other:?} is not consumed by the account service"
            ))),
        }
    }
}

impl IncidentHandler for AccountEvents {
    async fn incident_known(&self, incident_id: &str) -> anyhow::Result<bool> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let recorded = incidents::recorded(&mut connection, incident_id)
            .await
            .context("reading the incident")?;
        Ok(recorded.is_some())
    }
}
