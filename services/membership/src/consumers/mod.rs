//! The `candor.membership` queue: one handler dispatching on the routing key.

use anyhow::Context;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_platform::parking::{IncidentHandler, IncidentParking};
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED,
};
use sqlx::PgPool;

mod account_deactivated;
mod accounts_affected;
mod breach_reported;
mod enumeration_completed;

/// Handles every event the membership queue is bound to; batches that
/// arrive before their incident are parked in the platform's incident
/// parking and applied through this same handler later.
pub struct MembershipEvents {
    pool: PgPool,
    parking: IncidentParking,
}

impl MembershipEvents {
    pub fn new(pool: PgPool, parking: IncidentParking) -> Self {
        Self { pool, parking }
    }
}

impl MessageHandler for MembershipEvents {
    async fn handle(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        match message.routing_key.as_str() {
            BREACH_REPORTED => breach_reported::handle(self, message).await,
            BREACH_ACCOUNTS_AFFECTED => accounts_affected::handle(&self.pool, message).await,
            BREACH_ENUMERATION_COMPLETED => {
                enumeration_completed::handle(&self.pool, message).await
            }
            ACCOUNT_DEACTIVATED => account_deactivated::handle(&self.pool, message).await,
            other => Err(HandlerError::invalid(format!(
                "routing key {other:?} is not consumed by membership"
            ))),
        }
    }
}

impl IncidentHandler for MembershipEvents {
    async fn incident_known(&self, incident_id: &str) -> anyhow::Result<bool> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        crate::store::incidents::is_reported(&mut conn, incident_id)
            .await
            .context("reading the incident")
    }
}
