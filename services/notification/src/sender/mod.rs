//! The sender: claims due jobs in batches (`FOR UPDATE SKIP LOCKED`, so
//! replicas share them) under the shared rate bucket, sends each over the
//! SMTP pool with bounded concurrency, and records outcomes in bulk.
//!
//! A job is SENDING from its claim until its outcome is written; it is SENT
//! only after the server accepted it. While a replica holds a job its
//! `updated_at` is refreshed every third of `SENDING_STALE_SECONDS`; if the
//! process dies, the job is requeued once that much time has passed without
//! a refresh and counted as possibly re-sent.
//!
//! The parts, one task or pool each, joined by bounded queues:
//! - [`claimer`]: the claim loop (the in-flight window, the rate bucket,
//!   requeuing abandoned jobs) hands claimed jobs to the workers;
//! - [`workers`]: `SMTP_CONCURRENCY` workers render and send one job after
//!   another and hand each outcome to the recorder (a transient failure is
//!   retried later with the platform's backoff);
//! - [`recorder`]: writes outcomes, many per transaction, and lets go of
//!   the jobs;
//! - [`refresher`]: keeps the jobs held (claimed, outcome not yet written)
//!   fresh, so they do not look abandoned.

mod claimer;
mod recorder;
mod refresher;
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
use refresher::HeldJobs;
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
    /// How long a SENDING job may go without a refresh before it counts as
    /// abandoned (its replica stopped) and is requeued.
    pub stale_after: Duration,
}

/// Sends due jobs until stopped.
pub struct Sender {
    pool: PgPool,
    settings: SenderSettings,
    wake: Arc<Notify>,
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
        let deliverer = Arc::new(Deliverer {
            pool: pool.clone(),
            smtp,
            renderer,
            notices: NoticeCache::default(),
            max_attempts: settings.max_attempts,
            retry: Backoff::new(settings.retry_initial, settings.retry_max),
        });
        Arc::new(Self {
            pool,
            settings,
            wake,
            deliverer,
            metrics,
        })
    }

    /// The loop as a background task of the service.
    pub fn task(self: Arc<Self>) -> BackgroundTask {
        Box::new(move |stop| Box::pin(async move { self.run(stop).await }))
    }

    /// Runs until `stop`; then finishes the jobs it claimed, records their
    /// outcomes and returns.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> anyhow::Result<()> {
        let claimer = Claimer::new(self.pool.clone(), &self.settings, self.wake.clone());
        // The recorder's queue is as long as the in-flight window, so when
        // writing fails the workers stop (holding their places) instead of
        // piling up outcomes.
        let (outcomes, outcomes_received) = mpsc::channel(claimer.max_in_flight());
        let held = HeldJobs::default();
        let recorder = tokio::spawn(recorder::record_outcomes(
            self.pool.clone(),
            outcomes_received,
            held.clone(),
            self.metrics.clone(),
        ));
        // Jobs claimed ahead wait behind the ones being sent; however slow
        // the SMTP server, they must not look abandoned to the claimer's
        // requeuing.
        let refresh_stop = CancellationToken::new();
        let refresher = tokio::spawn(refresher::keep_held_jobs_fresh(
            self.pool.clone(),
            held.clone(),
            (self.settings.stale_after / 3).max(Duration::from_millis(100)),
            refresh_stop.clone(),
        ));
        let (queue, queued) = mpsc::unbounded_channel();
        let mut workers = Workers::start(
            self.deliverer.clone(),
            queued,
            outcomes,
            held.clone(),
            self.settings.concurrency,
        );
        claimer.run(&stop, &queue, &mut workers, &held).await?;
        // The workers send what is queued, then see the queue closed.
        drop(queue);
        workers.finish().await;
        recorder.await.context("the outcome recorder panicked")?;
        refresh_stop.cancel();
        refresher.await.context("the claim refresher panicked")?;
        tracing::info!("sender stopped");
        Ok(())
    }
}
