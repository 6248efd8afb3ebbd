//! The claim loop: keeps up to a window of jobs claimed ahead of sending,
//! claims due jobs under the replica's lease and the shared rate bucket, and
//! hands them to the workers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::SenderSettings;
use super::held::HeldJobs;
use super::lease::LeaseState;
use super::workers::Workers;
use crate::store::claims::{self, ClaimedJob};
use crate::store::leases::{self, ClaimRef};

/// Most jobs claimed in one statement.
const CLAIM_BATCH: usize = 256;
/// Most jobs claimed ahead of sending in one replica.
const MAX_IN_FLIGHT: usize = 2 * CLAIM_BATCH;
/// How often an idle sender looks for due jobs (SendEmail wakes it at once).
const IDLE_POLL: Duration = Duration::from_millis(250);
/// The most tokens the shared bucket saves, in seconds of the rate: a
/// window that starts with a full bucket sends this much more than the rate
/// (2 % of a 10-second window), and less saved means tokens lost whenever
/// no replica claims for a while.
const BURST_SECONDS: f64 = 0.2;
/// The tokens a claim waits for, in seconds of the rate (at least one): a
/// claim per token would be a transaction per message; half the burst
/// leaves the replicas a tenth of a second to claim before the bucket is
/// full and refills are lost.
const CLAIM_SECONDS: f64 = 0.1;

/// A claimed job on its way to a worker, with its place in the window.
pub(super) type QueuedJob = (ClaimedJob, OwnedSemaphorePermit);

/// Claims due jobs for the workers until stopped.
pub(super) struct Claimer {
    pool: PgPool,
    rate_per_second: f64,
    wake: Arc<Notify>,
    lease: Arc<LeaseState>,
    /// The window: a permit per job claimed and not yet sent.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Free places the loop waits for before claiming again.
    refill: u32,
}

impl Claimer {
    pub(super) fn new(
        pool: PgPool,
        settings: &SenderSettings,
        wake: Arc<Notify>,
        lease: Arc<LeaseState>,
    ) -> Self {
        // A window of two claim batches: the next claim starts once half of
        // it is free, so claiming overlaps sending and each claim is big. A
        // job leaves the window once its SMTP transaction is over and its
        // outcome is handed to the recorder: had it waited for the outcome to
        // be written (tens of ms, hundreds of messages at full speed), the
        // connections would run dry between claims.
        let max_in_flight = (settings.concurrency * 64).clamp(64, MAX_IN_FLIGHT);
        let refill = u32::try_from((max_in_flight / 2).clamp(1, CLAIM_BATCH)).unwrap_or(1);
        Self {
            pool,
            rate_per_second: settings.rate_per_second,
            wake,
            lease,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            refill,
        }
    }

    /// Most jobs claimed ahead of sending.
    pub(super) fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Claims and queues jobs until `stop`, replacing workers that died.
    pub(super) async fn run(
        &self,
        stop: &CancellationToken,
        queue: &mpsc::UnboundedSender<QueuedJob>,
        workers: &mut Workers,
        held: &HeldJobs,
    ) -> anyhow::Result<()> {
        // Claims are numbered under their lease, from 1; a number is never
        // used twice, even by a claim that failed.
        let mut last_claim: Option<ClaimRef> = None;
        loop {
            workers.replace_ended();
            let Some(lease_id) = self.lease.live() else {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = self.lease.changed(IDLE_POLL) => {}
                }
                continue;
            };
            let first = tokio::select! {
                () = stop.cancelled() => break,
                permits = self.in_flight.clone().acquire_many_owned(self.refill) => permits.context("in-flight semaphore closed")?,
            };
            let mut permits = vec![first];
            let mut claimable = self.refill as usize;
            while claimable < CLAIM_BATCH {
                match self.in_flight.clone().try_acquire_owned() {
                    Ok(permit) => {
                        permits.push(permit);
                        claimable += 1;
                    }
                    Err(_) => break,
                }
            }
            let number = match last_claim {
                Some(last) if last.lease_id == lease_id => last.number + 1,
                _ => 1,
            };
            let claim = ClaimRef { lease_id, number };
            last_claim = Some(claim);
            let (jobs, wait) = match self.claim(claim, claimable).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "claiming due jobs failed");
                    if error.is::<CommitUnknown>() {
                        // Jobs this replica does not know of may be SENDING
                        // under the lease: give it up, so that it expires and
                        // a reaper requeues them.
                        self.lease.abandon(lease_id);
                    }
                    (Vec::new(), Duration::from_secs(1))
                }
            };
            if jobs.is_empty() {
                drop(permits);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            held.hold(claim, jobs.len());
            // One permit per claimed job (the first grant is split up).
            let mut single = Vec::with_capacity(jobs.len());
            for mut permit in permits {
                while permit.num_permits() > 1 {
                    match permit.split(1) {
                        Some(one) => single.push(one),
                        None => break,
                    }
                }
                single.push(permit);
            }
            for queued_job in jobs.into_iter().zip(single) {
                if queue.send(queued_job).is_err() {
                    anyhow::bail!("the send queue closed");
                }
            }
        }
        Ok(())
    }

    /// Claims up to `wanted` due jobs under `claim` within the rate limit;
    /// when none, how long to wait before looking again.
    async fn claim(
        &self,
        claim: ClaimRef,
        wanted: usize,
    ) -> anyhow::Result<(Vec<ClaimedJob>, Duration)> {
        let rate = self.rate_per_second;
        let mut transaction = self.pool.begin().await?;
        claims::plan_for_actual_parameters(&mut transaction).await?;
        // First, so a reaper deleting the lease either waits for this claim
        // to commit (and then requeues what it claimed) or has deleted it
        // already (and nothing is claimed).
        if !leases::lock_live(&mut transaction, claim.lease_id).await? {
            transaction.commit().await?;
            return Ok((Vec::new(), IDLE_POLL));
        }
        let granted = if rate > 0.0 {
            let (granted, wait) = claims::take_tokens(
                &mut transaction,
                rate,
                (rate * BURST_SECONDS).max(1.0),
                tokens_per_claim(rate),
                wanted,
            )
            .await?;
            if granted == 0 {
                transaction.commit().await?;
                return Ok((Vec::new(), Duration::from_secs_f64(wait.min(1.0))));
            }
            granted
        } else {
            wanted
        };
        let jobs = claims::claim_due(&mut transaction, claim, granted).await?;
        if rate > 0.0 {
            claims::spend_tokens(&mut transaction, jobs.len()).await?;
        }
        transaction.commit().await.map_err(CommitUnknown)?;
        Ok((jobs, IDLE_POLL))
    }
}

/// A claim's commit failed: it may have committed all the same.
#[derive(Debug, thiserror::Error)]
#[error("committing the claim: {0}")]
struct CommitUnknown(sqlx::Error);

/// The tokens a claim waits for at `rate` per second: [`CLAIM_SECONDS`] of
/// them, at least one.
fn tokens_per_claim(rate: f64) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let tokens = (rate * CLAIM_SECONDS).floor().max(1.0) as usize;
    tokens
}
