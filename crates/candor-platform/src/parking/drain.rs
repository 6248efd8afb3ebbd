//! Applying parked messages (the drain), the periodic sweep and expiry.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::store::{self, Claim, Parked};
use super::{DrainError, IncidentHandler, IncidentParking};
use crate::messaging::{
    HEADER_ATTEMPTS, HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY, HEADER_ORIGINAL_USER_ID,
    HandlerError, IncomingMessage, MessageHandler, OutgoingMessage,
};
use crate::service::BackgroundTask;

/// Incidents one sweep looks at, longest waiting first; the rest wait for
/// the next sweep.
const SWEEP_INCIDENTS: i64 = 1_000;

/// What a drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Messages the handler applied (and that were removed).
    pub applied: u64,
    /// Messages the handler refused as invalid, dead-lettered.
    pub dead_lettered: u64,
    /// Claims taken (each of at most `drain_batch` rows).
    pub claims: u64,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Parked messages of recorded incidents, applied.
    pub applied: u64,
    /// Messages that waited longer than the TTL, dead-lettered.
    pub expired: u64,
    /// Messages refused as invalid when applied, dead-lettered.
    pub dead_lettered: u64,
}

/// A handler behind a boxed future: the drain runs inside the handler that
/// recorded the incident, so naming the handler's future type here would
/// make that future contain itself.
type Applied<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// What the drain needs of a handler; every [`MessageHandler`] is one.
pub trait ApplyParked: Send + Sync {
    /// Handles a parked message as if it were delivered again.
    fn apply<'a>(&'a self, message: &'a IncomingMessage) -> Applied<'a>;
}

impl<H: MessageHandler> ApplyParked for H {
    fn apply<'a>(&'a self, message: &'a IncomingMessage) -> Applied<'a> {
        Box::pin(self.handle(message))
    }
}

impl IncidentParking {
    /// Applies the parked messages of `incident_id` through `handler`, after
    /// the incident's recording committed. Claims at most `drain_batch`
    /// rows at a time; each message runs in the handler's own transaction
    /// and its row is removed once applied. A message the handler refuses as
    /// invalid is dead-lettered with the reason. Stops at the first
    /// transient failure, leaving that message and the rest parked (the
    /// sweep or the next drain applies them). Safe to run concurrently.
    pub async fn drain(
        &self,
        incident_id: &str,
        handler: &dyn ApplyParked,
    ) -> Result<DrainReport, DrainError> {
        let mut report = DrainReport::default();
        let mut after = 0;
        loop {
            let (token, claimed) = self.claim(incident_id, Claim::All, after).await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            report.claims += 1;
            let ids: Vec<i64> = claimed.iter().map(|parked| parked.id).collect();
            after = ids.last().copied().unwrap_or(after);
            for (index, parked) in claimed.iter().enumerate() {
                let outcome = self.apply_one(parked, handler, token, &mut report).await;
                if let Err(error) = outcome {
                    // Best effort: an unreleased claim runs out by itself.
                    if let Err(release) = store::release(&self.pool, &ids[index..], token).await {
                        tracing::debug!(error = %release, "releasing parked messages");
                    }
                    return Err(error);
                }
            }
        }
    }

    /// The next claim of at most `drain_batch` rows after row `after`,
    /// under a fresh token.
    async fn claim(
        &self,
        incident_id: &str,
        which: Claim,
        after: i64,
    ) -> Result<(Uuid, Vec<Parked>), DrainError> {
        let token = Uuid::new_v4();
        let claimed = store::claim(
            &self.pool,
            incident_id,
            which,
            after,
            self.options.drain_batch,
            self.options.claim_lease,
            token,
        )
        .await?;
        Ok((token, claimed))
    }

    async fn apply_one(
        &self,
        parked: &Parked,
        handler: &dyn ApplyParked,
        token: Uuid,
        report: &mut DrainReport,
    ) -> Result<(), DrainError> {
        match handler.apply(&parked.message).await {
            Ok(()) => {
                if store::remove(&self.pool, parked.id, token).await? {
                    report.applied += 1;
                    tracing::debug!(incident_id = %parked.incident_id, id = parked.id, "parked message applied");
                }
                Ok(())
            }
            Err(HandlerError::Invalid(reason)) => {
                self.dead_letter(
                    parked,
                    &format!("invalid message (after parking): {reason}"),
                )
                .await?;
                store::remove(&self.pool, parked.id, token).await?;
                report.dead_lettered += 1;
                Ok(())
            }
            Err(HandlerError::Transient(source)) => Err(DrainError::Handler {
                id: parked.id,
                source,
            }),
        }
    }

    /// Dead-letters expired messages of `incident_id` (still unknown):
    /// claims of at most `drain_batch` rows; each row is removed once the
    /// broker confirmed its dead letter. Returns how many expired.
    pub async fn expire(&self, incident_id: &str) -> Result<u64, DrainError> {
        let mut expired = 0;
        let mut after = 0;
        loop {
            let (token, claimed) = self
                .claim(
                    incident_id,
                    Claim::ParkedLongerThan(self.options.ttl),
                    after,
                )
                .await?;
            if claimed.is_empty() {
                return Ok(expired);
            }
            after = claimed.last().map_or(after, |parked| parked.id);
            for parked in &claimed {
                let reason = format!(
                    "parked since {} waiting for incident {:?}, which was not recorded within {} s (PARKED_MESSAGE_TTL_SECONDS)",
                    parked.parked_at.to_rfc3339(),
                    parked.incident_id,
                    self.options.ttl.as_secs()
                );
                self.dead_letter(parked, &reason).await?;
                if store::remove(&self.pool, parked.id, token).await? {
                    expired += 1;
                }
            }
        }
    }

    /// One sweep: drains incidents recorded by now and expires messages of
    /// incidents that are not. Runs at start and every `sweep_interval`.
    pub async fn sweep<H: IncidentHandler>(&self, handler: &H) -> Result<SweepReport, DrainError> {
        let mut report = SweepReport::default();
        for incident_id in store::incidents(&self.pool, SWEEP_INCIDENTS).await? {
            let known = handler
                .incident_known(&incident_id)
                .await
                .map_err(|source| DrainError::IncidentCheck {
                    incident_id: incident_id.clone(),
                    source,
                })?;
            if known {
                let drained = self.drain(&incident_id, handler).await?;
                report.applied += drained.applied;
                report.dead_lettered += drained.dead_lettered;
            } else {
                let expired = self.expire(&incident_id).await?;
                if expired > 0 {
                    tracing::warn!(
                        incident_id,
                        expired,
                        "parked messages expired, dead-lettered"
                    );
                }
                report.expired += expired;
            }
        }
        Ok(report)
    }

    /// The background task running [`IncidentParking::sweep`] at start and
    /// every `sweep_interval` until stopped. A failed sweep is logged and
    /// retried at the next interval.
    pub fn sweeper<H: IncidentHandler>(&self, handler: Arc<H>) -> BackgroundTask {
        let parking = self.clone();
        Box::new(move |stop: CancellationToken| {
            Box::pin(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        swept = parking.sweep(handler.as_ref()) => match swept {
                            Ok(report) if report != SweepReport::default() => {
                                tracing::info!(applied = report.applied, expired = report.expired, dead_lettered = report.dead_lettered, "parked messages swept");
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(error = %format!("{error:#}"), "sweeping parked messages failed");
                            }
                        },
                    }
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        () = tokio::time::sleep(parking.options.sweep_interval) => {}
                    }
                }
            })
        })
    }

    /// Publishes `parked` to the service's dead-letter queue with `reason`,
    /// waiting for the broker's confirm.
    async fn dead_letter(&self, parked: &Parked, reason: &str) -> Result<(), DrainError> {
        let message = &parked.message;
        tracing::warn!(
            incident_id = %parked.incident_id,
            routing_key = %message.routing_key,
            message_id = message.message_id.as_deref().unwrap_or_default(),
            reason,
            "parked message dead-lettered"
        );
        let mut outgoing =
            OutgoingMessage::new(&self.dead_letter_routing_key, message.body.clone());
        if let Some(content_type) = &message.content_type {
            outgoing.content_type.clone_from(content_type);
        }
        if let Some(message_id) = &message.message_id {
            outgoing.message_id.clone_from(message_id);
        }
        outgoing.message_type.clone_from(&message.message_type);
        outgoing.headers.clone_from(&parked.headers);
        outgoing = outgoing
            .with_header(HEADER_ERROR, reason)
            .with_header(HEADER_ORIGINAL_ROUTING_KEY, &message.routing_key)
            .with_header(HEADER_ATTEMPTS, "0");
        if let Some(user_id) = &message.user_id {
            outgoing = outgoing.with_header(HEADER_ORIGINAL_USER_ID, user_id);
        }
        self.dead_letters
            .publish(outgoing)
            .await
            .map_err(|source| DrainError::DeadLetter {
                id: parked.id,
                source,
            })
    }
}
