//! The claim loop: keeps up to a window of jobs claimed ahead of sending,
//! claims due jobs under the shared rate bucket and hands them to the
//! workers, and now and then requeues jobs another replica abandoned.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::SenderSettings;
use super::refresher::HeldJobs;
use super::workers::Workers;
use crate::store::claims::{self, ClaimedJob};

/// Most jobs claimed in one statement.
const CLAIM_BATCH: usize = 256;
/// Most jobs claimed ahead of sending in one replica.
const MAX_IN_FLIGHT: usize = 2 * CLAIM_BATCH;
/// How often an idle sender looks for due jobs (SendEmail wakes it at once).
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often abandoned SENDING jobs are looked for.
const STALE_CHECK: Duration = Duration::from_secs(30);

/// A claimed job on its way to a worker, with its place in the window.
pub(super) type QueuedJob = (ClaimedJob, OwnedSemaphorePermit);

/// Claims due jobs for the workers until stopped.
pub(super) struct Claimer {
    pool: PgPool,
    rate_per_second: f64,
    stale_after: Duration,
    wake: Arc<Notify>,
    /// The window: a permit per job claimed and not yet sent.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Free places the loop waits for before claiming again.
    refill: u32,
}

impl Claimer {
    pub(super) fn new(pool: PgPool, settings: &SenderSettings, wake: Arc<Notify>) -> Self {
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
            stale_after: settings.stale_after,
            wake,
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
        let mut next_stale_check = Instant::now();
        loop {
            workers.replace_ended();
            if Instant::now() >= next_stale_check {
                // Never less often than the staleness itself, so a restarted
                // replica picks up what its predecessor left promptly.
                next_stale_check = Instant::now() + STALE_CHECK.min(self.stale_after);
                self.requeue_stale().await;
            }
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
            let (jobs, wait) = match self.claim(claimable).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "claiming due jobs failed");
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
            held.hold(jobs.iter().map(|job| job.job_id));
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

    async fn requeue_stale(&self) {
        let stale = self.stale_after.as_secs_f64();
        let result = async {
            let mut connection = self.pool.acquire().await?;
            claims::requeue_stale(&mut connection, stale).await
        }
        .await;
        match result {
            Ok(0) => {}
            Ok(requeued) => tracing::warn!(requeued, "requeued jobs abandoned while sending"),
            Err(error) => tracing::warn!(error = %error, "requeuing abandoned jobs failed"),
        }
    }

    /// Claims up to `wanted` due jobs within the rate limit; when none, how
    /// long to wait before looking again.
    async fn claim(&self, wanted: usize) -> anyhow::Result<(Vec<ClaimedJob>, Duration)> {
        let rate = self.rate_per_second;
        let mut transaction = self.pool.begin().await?;
        claims::plan_for_actual_parameters(&mut transaction).await?;
        let granted = if rate > 0.0 {
            let (granted, wait) =
                claims::take_tokens(&mut transaction, rate, rate.max(1.0), wanted).await?;
            if granted == 0 {
                transaction.commit().await?;
                return Ok((Vec::new(), Duration::from_secs_f64(wait.min(1.0))));
            }
            granted
        } else {
            wanted
        };
        let jobs = claims::claim_due(&mut transaction, granted).await?;
        if rate > 0.0 {
            claims::spend_tokens(&mut transaction, jobs.len()).await?;
        }
        transaction.commit().await?;
        Ok((jobs, IDLE_POLL))
    }
}
