//! The forum's queue, one file per routing key: `breach.reported` opens the
//! incident's announcement thread (once per incident),
//! `account.deactivated` turns an author into a former member.

mod account_deactivated;
mod breach_reported;

use std::sync::Arc;

use candor_platform::auth::SessionResolver;
use candor_platform::links::PublicLinks;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, AccountDeactivated, BREACH_REPORTED, BreachReported,
};
use sqlx::PgPool;

use crate::page_cache::PageCache;

/// Handles the messages of the `forum` queue.
pub struct ForumEvents {
    pool: PgPool,
    links: PublicLinks,
    sessions: Arc<SessionResolver>,
    pages: Arc<PageCache>,
}

impl ForumEvents {
    pub fn new(
        pool: PgPool,
        links: PublicLinks,
        sessions: Arc<SessionResolver>,
        pages: Arc<PageCache>,
    ) -> Self {
        Self {
            pool,
            links,
            sessions,
            pages,
        }
    }

    async fn dispatch(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        match message.routing_key.as_str() {
            BREACH_REPORTED => {
                let breach: BreachReported = message.decode_event()?;
                breach_reported::open_incident_thread(&self.pool, &self.links, breach).await
            }
            ACCOUNT_DEACTIVATED => {
                let event: AccountDeactivated = message.decode_event()?;
                account_deactivated::erase_author(&self.pool, &self.sessions, event).await
            }
            other => Err(HandlerError::invalid(format!(
                "the forum does not handle routing key {other:?}"
            ))),
        }
    }
}

impl MessageHandler for ForumEvents {
    async fn handle(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        let handled = self.dispatch(message).await;
        // A new incident thread or an erased author changes what pages show.
        self.pages.invalidate();
        handled
    }
}
