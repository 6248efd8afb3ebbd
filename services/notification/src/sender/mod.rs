//! The sender: claims due jobs in batches (`FOR UPDATE SKIP LOCKED`, so
//! replicas share them) under the replica's lease and the shared rate
//! bucket, sends each over the SMTP pool with bounded concurrency, and
//! records outcomes in bulk.
//!
//! A job is SENDING from its claim until its outcome is written; it is SENT
//! only after the server accepted it. Each replica holds a lease
//! (`sender_leases`) it renews every third of `SENDER_LEASE_SECONDS`, and
//! every job records the lease it was claimed under. If the replica dies,
//! its lease expires and any replica's reaper queues its SENDING jobs again
//! within a second or so, counted as possibly re-sent. A replica that could
//! not renew its lease in time stops sending under it: its workers give
//! their jobs back unsent, and it starts a new lease once the database
//! answers. Outcomes are written only for jobs still SENDING under the
//! lease they were claimed under, so a late outcome never overwrites what
//! a reaper (or another replica) did since. Jobs left SENDING without a
//! lease (claimed by a release before leases) are requeued after
//! `SENDING_STALE_SECONDS`, as they were then.
//!
//! The parts, one task or pool each, joined by bounded queues:
//! - [`claimer`]: the claim loop (the in-flight window, the lease, the rate
//!   bucket) hands claimed jobs to the workers;
//! - [`workers`]: `SMTP_CONCURRENCY` workers render and send one job after
//!   another and hand each outcome to the recorder (a transient failure is
//!   retried later with the platform's backoff);
//! - [`recorder`]: writes outcomes, many per transaction, and lets go of
//!   the jobs ([`held`] counts them by claim);
//! - [`lease`]: starts, renews and, at shutdown, ends the replica's lease;
//! - [`reaper`]: requeues the jobs of expired leases (and of none).

mod claimer;
mod held;
mod lease;
mod reaper;
mod recorder;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use candor_platform::messaging::Backoff;
use candor_platform::service::BackgroundTask;
use sqlx::PgPool;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::metrics::DeliveryMetrics;
use crate::notice::{NoticeCache, Renderer};
use crate::smtp::SmtpPool;
use claimer::Claimer;
use held::HeldJobs;
use lease::{LeaseState, LeaseTiming};
use workers::{Deliverer, Workers};

/// How the sender behaves (from the configuration).
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Messages per second for all replicas together; 0 = no limit.
    pub rate_per_second: f64,
    /// SMTP transactions at once (and SMTP connections) in this replica.
    pub concurrency: usize,
    /// Attempts before a transiently failing job fails for good.
    pub max_attempts: u32,
    /// The delay before a job's first retry; it doubles (jittered) with each
    /// attempt up to `retry_max`.
    pub retry_initial: Duration,
    /// The longest delay between two attempts of a job.
    pub retry_max: Duration,
    /// How long a job left SENDING without a live lease (claimed by a
    /// release before leases) may go unrefreshed before it counts as
    /// abandoned and is requeued.
    pub stale_after: Duration,
    /// How long a lease lasts unrenewed (`SENDER_LEASE_SECONDS`); it is
    /// renewed every third of this.
    pub lease: Duration,
}

/// Sends due jobs until stopped.
pub struct Sender {
    pool: PgPool,
    settings: SenderSettings,
    wake: Arc<Notify>,
    lease: Arc<LeaseState>,
    deliverer: Arc<Deliverer>,
    metrics: DeliveryMetrics,
}

impl Sender {
    /// A sender over `pool` and `smtp`; `wake` is notified by SendEmail so a
    /// new transactional email does not wait for the next poll. Written
    /// outcomes are counted in `metrics`.
    pub fn new(
        pool: PgPool,
        smtp: Arc<SmtpPool>,
        renderer: Arc<Renderer>,
        settings: SenderSettings,
        wake: Arc<Notify>,
        metrics: DeliveryMetrics,
    ) -> Arc<Self> {
        let lease = Arc::new(LeaseState::default());
        let deliverer = Arc::new(Deliverer {
            pool: pool.clone(),
            smtp,
            renderer,
            notices: NoticeCache::default(),
            max_attempts: settings.max_attempts,
            retry: Backoff::new(settings.retry_initial, settings.retry_max),
            lease: lease.clone(),
        });
        Arc::new(Self {
            pool,
            settings,
            wake,
            lease,
            deliverer,
            metrics,
        })
    }

    /// The loop as a background task of the service.
    pub fn task(self: Arc<Self>) -> BackgroundTask {
        Box::new(move |stop| Box::pin(async move { self.run(stop).await }))
    }

    /// Runs until `stop`; then finishes the jobs it claimed, records their
    /// outcomes, ends its lease and returns.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> anyhow::Result<()> {
        let held = HeldJobs::default();
        // The lease outlives the claim loop: the workers send what was
        // claimed under it after `stop`, and it ends once they are done.
        let lease_stop = CancellationToken::new();
        let keeper = tokio::spawn(lease::keep_lease(
            self.pool.clone(),
            self.lease.clone(),
            held.clone(),
            LeaseTiming {
                lease: self.settings.lease,
            },
            lease_stop.clone(),
        ));
        let reaper_stop = CancellationToken::new();
        let reaper = tokio::spawn(reaper::reap_until(
            self.pool.clone(),
            self.settings.stale_after,
            reaper_stop.clone(),
        ));
        let claimer = Claimer::new(
            self.pool.clone(),
            &self.settings,
            self.wake.clone(),
            self.lease.clone(),
        );
        // The recorder's queue is as long as the in-flight window, so when
        // writing fails the workers stop (holding their places) instead of
        // piling up outcomes.
        let (outcomes, outcomes_received) = mpsc::channel(claimer.max_in_flight());
        let recorder = tokio::spawn(recorder::record_outcomes(
            self.pool.clone(),
            outcomes_received,
            held.clone(),
            self.metrics.clone(),
        ));
        let (queue, queued) = mpsc::unbounded_channel();
        let mut workers = Workers::start(
            self.deliverer.clone(),
            queued,
            outcomes,
            self.settings.concurrency,
        );
        let claimed = claimer.run(&stop, &queue, &mut workers, &held).await;
        reaper_stop.cancel();
        // The workers send what is queued, then see the queue closed.
        drop(queue);
        workers.finish().await;
        recorder.await.context("the outcome recorder panicked")?;
        reaper.await.context("the lease reaper panicked")?;
        lease_stop.cancel();
        if let Some(lease_id) = keeper.await.context("the lease keeper panicked")? {
            lease::end_lease(&self.pool, lease_id).await;
        }
        claimed?;
        tracing::info!("sender stopped");
        Ok(())
    }
}
