//! The forum's queue: `breach.reported` opens the incident's announcement
//! thread (once per incident), `account.deactivated` turns an author into a
//! former member.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use candor_platform::db::{ConstraintViolation, constraint_violation};
use candor_platform::links::PublicLinks;
use candor_platform::messaging::{HandlerError, IncomingMessage, MessageHandler};
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, AccountDeactivated, BREACH_REPORTED, BreachReported, IncidentThreadOpened,
};
use chrono::{DateTime, Utc};
use prost::Message as _;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::grpc::convert::timestamp;
use crate::notice;
use crate::page_cache::PageCache;
use crate::sessions::{SYSTEM_ACCOUNT_ID, Sessions};
use crate::store::threads::{self, NewThread};

/// The board incident threads open on.
pub const ANNOUNCEMENTS_BOARD: &str = "announcements";

/// Handles the messages of the `forum` queue.
pub struct ForumEvents {
    pool: PgPool,
    links: PublicLinks,
    sessions: Arc<Sessions>,
    pages: Arc<PageCache>,
}

impl ForumEvents {
    pub fn new(
        pool: PgPool,
        links: PublicLinks,
        sessions: Arc<Sessions>,
        pages: Arc<PageCache>,
    ) -> Self {
        Self {
            pool,
            links,
            sessions,
            pages,
        }
    }

    #[tracing::instrument(skip_all, fields(incident_id = %breach.incident_id))]
    async fn open_incident_thread(&self, breach: BreachReported) -> Result<(), HandlerError> {
        breach
            .validate(SystemTime::now())
            .map_err(HandlerError::invalid)?;
        let digest: Vec<u8> = Sha256::digest(breach.encode_to_vec()).to_vec();
        let mut tx = self.pool.begin().await?;
        if let Some(existing) = threads::incident_digest(&mut tx, &breach.incident_id).await? {
            return same_incident(&breach.incident_id, existing.as_deref(), &digest);
        }
        let thread_id = Uuid::now_v7();
        let body = notice::render(&breach, &self.links);
        let inserted = threads::insert(
            &mut tx,
            &NewThread {
                thread_id,
                first_post_id: Uuid::now_v7(),
                board_id: ANNOUNCEMENTS_BOARD,
                title: breach.title.trim(),
                body: &body,
                author_id: SYSTEM_ACCOUNT_ID,
                pinned: true,
                incident_id: Some(&breach.incident_id),
                incident_digest: Some(&digest),
                request_id: None,
            },
        )
        .await;
        if let Err(error) = inserted {
            if let Some((ConstraintViolation::Unique, _)) = constraint_violation(&error) {
                // Another consumer opened it first; compare with what it stored.
                drop(tx);
                let mut conn = self.pool.acquire().await?;
                let existing = threads::incident_digest(&mut conn, &breach.incident_id)
                    .await?
                    .context("incident thread vanished after a unique violation")
                    .map_err(HandlerError::Transient)?;
                return same_incident(&breach.incident_id, existing.as_deref(), &digest);
            }
            return Err(error.into());
        }
        let thread = threads::get(&mut tx, thread_id)
            .await?
            .context("the incident thread is missing")
            .map_err(HandlerError::Transient)?;
        let event = IncidentThreadOpened {
            incident_id: breach.incident_id.clone(),
            thread_id: thread_id.to_string(),
            url: self.links.forum_thread(thread_id),
            opened_at: Some(timestamp(thread.created_at)),
        };
        candor_platform::outbox::enqueue_event(&mut tx, &event).await?;
        tx.commit().await?;
        tracing::info!(thread_id = %thread_id, "incident thread opened");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account_id = %event.account_id))]
    async fn erase_author(&self, event: AccountDeactivated) -> Result<(), HandlerError> {
        let account_id = Uuid::parse_str(&event.account_id)
            .map_err(|_| HandlerError::invalid("account_id: must be a UUID"))?;
        let deactivated_at = event
            .deactivated_at
            .and_then(|at| {
                DateTime::<Utc>::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?)
            })
            .unwrap_or_else(Utc::now);
        let mut conn = self.pool.acquire().await?;
        crate::store::authors::deactivate(&mut conn, account_id, deactivated_at).await?;
        self.sessions.forget_account(account_id);
        tracing::info!("author shown as former member");
        Ok(())
    }
}

fn same_incident(
    incident_id: &str,
    stored: Option<&[u8]>,
    digest: &[u8],
) -> Result<(), HandlerError> {
    if stored == Some(digest) {
        tracing::info!(incident_id, "incident thread already open");
        Ok(())
    } else {
        Err(HandlerError::invalid(format!(
            "incident {incident_id} was already reported with different content"
        )))
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

impl ForumEvents {
    async fn dispatch(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        match message.routing_key.as_str() {
            BREACH_REPORTED => {
                let breach: BreachReported = message.decode_event()?;
                self.open_incident_thread(breach).await
            }
            ACCOUNT_DEACTIVATED => {
                let event: AccountDeactivated = message.decode_event()?;
                self.erase_author(event).await
            }
            other => Err(HandlerError::invalid(format!(
                "the forum does not handle routing key {other:?}"
            ))),
        }
    }
}
