//! `breach.reported`: opens the incident's pinned announcement thread, once
//! per incident, and announces it (`forum.incident_thread_opened`) through
//! the outbox in the same transaction.

use std::time::SystemTime;

use anyhow::Context as _;
use candor_platform::db::{ConstraintViolation, constraint_violation};
use candor_platform::links::PublicLinks;
use candor_platform::messaging::HandlerError;
use candor_proto::events::v1::{BreachReported, IncidentThreadOpened};
use prost::Message as _;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::notice;
use crate::domain::poster::SYSTEM_ACCOUNT_ID;
use crate::store::threads::{self, NewThread};

/// The board incident threads open on.
const ANNOUNCEMENTS_BOARD: &str = "announcements";

#[tracing::instrument(skip_all, fields(incident_id = %breach.incident_id))]
pub(super) async fn open_incident_thread(
    pool: &PgPool,
    links: &PublicLinks,
    breach: BreachReported,
) -> Result<(), HandlerError> {
    breach
        .validate(SystemTime::now())
        .map_err(HandlerError::invalid)?;
    let digest: Vec<u8> = Sha256::digest(breach.encode_to_vec()).to_vec();
    let mut tx = pool.begin().await?;
    if let Some(existing) = threads::incident_digest(&mut tx, &breach.incident_id).await? {
        return same_incident(&breach.incident_id, existing.as_deref(), &digest);
    }
    let thread_id = Uuid::now_v7();
    let body = notice::render(&breach, links);
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
            let mut conn = pool.acquire().await?;
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
        url: links.forum_thread(thread_id),
        opened_at: Some(SystemTime::from(thread.created_at).into()),
    };
    candor_platform::outbox::enqueue_event(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(thread_id = %thread_id, "incident thread opened");
    Ok(())
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
