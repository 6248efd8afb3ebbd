//! The sender loop: claims due jobs in batches (`FOR UPDATE SKIP LOCKED`,
//! so replicas share them) under the shared rate bucket, sends each over the
//! SMTP pool with bounded concurrency, and records outcomes in bulk.
//!
//! A job is SENDING from its claim until its outcome is written; it is SENT
//! only after the server accepted it. While a replica holds a job its
//! `updated_at` is refreshed every third of `SENDING_STALE_SECONDS`; if the
//! process dies, the job is requeued once that much time has passed without
//! a refresh and counted as possibly re-sent.

mod backoff;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use candor_platform::service::BackgroundTask;
use candor_platform::sync::lock;
use candor_proto::events::v1::BreachReported;
use chrono::Utc;
use prost::Message as _;
use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::notice::{
    IncidentContext, PreparedNotice, RenderError, Renderer, TransactionalContent, without_panics,
};
use crate::smtp::{SmtpError, SmtpPool};
use crate::store::claims::{self, ClaimedJob, Outcome};

pub use backoff::retry_delay;

/// Most jobs claimed in one statement.
const CLAIM_BATCH: usize = 256;
/// Most jobs claimed ahead of sending in one replica.
const MAX_IN_FLIGHT: usize = 2 * CLAIM_BATCH;
/// How often an idle sender looks for due jobs (SendEmail wakes it at once).
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often abandoned SENDING jobs are looked for.
const STALE_CHECK: Duration = Duration::from_secs(30);
/// Most outcomes written in one transaction.
const RECORD_BATCH: usize = 1000;
/// How long the recorder gathers outcomes before writing them: at
/// thousands of sends a second this makes one transaction of hundreds
/// instead of hundreds of small ones.
const RECORD_LINGER: Duration = Duration::from_millis(20);

/// How the sender behaves (from the configuration).
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Messages per second for all replicas together; 0 = no limit.
    pub rate_per_second: f64,
    /// SMTP transactions at once (and SMTP connections) in this replica.
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub stale_after: Duration,
}

/// Sends due jobs until stopped.
pub struct Sender {
    pool: PgPool,
    smtp: Arc<SmtpPool>,
    renderer: Arc<Renderer>,
    settings: SenderSettings,
    wake: Arc<Notify>,
    incidents: Mutex<HashMap<String, Arc<IncidentContext>>>,
    prepared: Mutex<PreparedNotices>,
}

/// Claimed jobs waiting for a send worker, each with its in-flight permit.
type SendQueue = mpsc::UnboundedReceiver<(ClaimedJob, OwnedSemaphorePermit)>;

/// Prepared notices by incident and thread link.
type PreparedNotices = HashMap<(String, Option<String>), Arc<PreparedNotice>>;

impl Sender {
    pub fn new(
        pool: PgPool,
        smtp: Arc<SmtpPool>,
        renderer: Arc<Renderer>,
        settings: SenderSettings,
        wake: Arc<Notify>,
    ) -> Arc<Self> {
        Arc::new(Self {
            pool,
            smtp,
            renderer,
            settings,
            wake,
            incidents: Mutex::new(HashMap::new()),
            prepared: Mutex::new(HashMap::new()),
        })
    }

    /// The loop as a background task of the service.
    pub fn task(self: Arc<Self>) -> BackgroundTask {
        Box::new(move |stop| Box::pin(async move { self.run(stop).await }))
    }

    /// Runs until `stop`; then finishes the jobs it claimed, records their
    /// outcomes and returns.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> anyhow::Result<()> {
        // A window of two claim batches: the next claim starts once half of
        // it is free, so claiming overlaps sending and each claim is big. A
        // job leaves the window once its SMTP transaction is over and its
        // outcome is handed to the recorder: had it waited for the outcome to
        // be written (tens of ms, hundreds of messages at full speed), the
        // connections would run dry between claims. The recorder's queue is
        // bounded as well, so when writing fails the senders stop (holding
        // their places) instead of piling up outcomes.
        let max_in_flight = (self.settings.concurrency * 64).clamp(64, MAX_IN_FLIGHT);
        let refill = u32::try_from((max_in_flight / 2).clamp(1, CLAIM_BATCH)).unwrap_or(1);
        let in_flight = Arc::new(Semaphore::new(max_in_flight));
        let (outcomes, outcomes_received) = mpsc::channel(max_in_flight);
        let held = HeldJobs::default();
        let recorder = tokio::spawn(record_outcomes(
            self.pool.clone(),
            outcomes_received,
            held.clone(),
        ));
        // Jobs claimed ahead wait behind the ones being sent; however slow
        // the SMTP server, they must not look abandoned to `requeue_stale`.
        let refresh_stop = CancellationToken::new();
        let refresher = tokio::spawn(keep_held_jobs_fresh(
            self.pool.clone(),
            held.clone(),
            (self.settings.stale_after / 3).max(Duration::from_millis(100)),
            refresh_stop.clone(),
        ));
        // `concurrency` workers, each sending one job after another (and so
        // keeping its SMTP connection), take the claimed jobs from a queue:
        // a task per job meant a spawn and, with more tasks than
        // connections, a wait for a pool slot and a wake-up per message.
        let (queue, queued) = mpsc::unbounded_channel();
        let queued = Arc::new(tokio::sync::Mutex::new(queued));
        let workers = self.settings.concurrency.max(1);
        let mut sends = JoinSet::new();
        for _ in 0..workers {
            sends.spawn(
                self.clone()
                    .send_queued(queued.clone(), outcomes.clone(), held.clone()),
            );
        }
        let mut next_stale_check = Instant::now();
        loop {
            while let Some(ended) = sends.try_join_next() {
                // Only a panic ends a worker while the queue is open.
                tracing::error!(error = ?ended.err(), "a send worker ended; starting another");
                sends.spawn(self.clone().send_queued(
                    queued.clone(),
                    outcomes.clone(),
                    held.clone(),
                ));
            }
            if Instant::now() >= next_stale_check {
                // Never less often than the staleness itself, so a restarted
                // replica picks up what its predecessor left promptly.
                next_stale_check = Instant::now() + STALE_CHECK.min(self.settings.stale_after);
                self.requeue_stale().await;
            }
            let first = tokio::select! {
                () = stop.cancelled() => break,
                permits = in_flight.clone().acquire_many_owned(refill) => permits.context("in-flight semaphore closed")?,
            };
            let mut permits = vec![first];
            let mut claimable = refill as usize;
            while claimable < CLAIM_BATCH {
                match in_flight.clone().try_acquire_owned() {
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
        // The workers send what is queued, then see the queue closed.
        drop(queue);
        while sends.join_next().await.is_some() {}
        drop(outcomes);
        recorder.await.context("the outcome recorder panicked")?;
        refresh_stop.cancel();
        refresher.await.context("the claim refresher panicked")?;
        tracing::info!("sender stopped");
        Ok(())
    }

    /// One send worker: delivers queued jobs one at a time until the queue
    /// is closed and empty.
    async fn send_queued(
        self: Arc<Self>,
        queued: Arc<tokio::sync::Mutex<SendQueue>>,
        outcomes: mpsc::Sender<Outcome>,
        held: HeldJobs,
    ) {
        loop {
            let next = queued.lock().await.recv().await;
            let Some((job, permit)) = next else { break };
            let mut handover = Handover {
                job_id: Some(job.job_id),
                held: &held,
            };
            let outcome = self.deliver(job).await;
            let _ = outcomes.send(outcome).await;
            // The recorder lets go of the job once its outcome is written.
            handover.job_id = None;
            drop(permit);
        }
    }

    async fn requeue_stale(&self) {
        let stale = self.settings.stale_after.as_secs_f64();
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
        let rate = self.settings.rate_per_second;
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

    /// Renders and sends one job; never fails, the outcome says what happened.
    async fn deliver(&self, job: ClaimedJob) -> Outcome {
        let job_id = job.job_id;
        if job.address_suppressed {
            return Outcome::Suppressed { job_id };
        }
        let email = match self.render(&job).await {
            Ok(email) => email,
            Err(RenderError::Internal(error)) if is_transient_render(&error) => {
                return self.retry_or_fail(&job, format!("{error:#}"));
            }
            Err(error) => {
                tracing::warn!(%job_id, error = %error, "email could not be rendered");
                return Outcome::Failed {
                    job_id,
                    error: error.to_string(),
                    suppress: None,
                };
            }
        };
        match self.smtp.send(&email.0, &email.1).await {
            Ok(()) => Outcome::Sent {
                job_id,
                sent_at: Utc::now(),
                without_thread_link: job.kind == "breach_notice" && job.thread_url.is_none(),
            },
            Err(error @ SmtpError::Permanent(_)) => {
                let suppress = error.is_reply().then(|| job.to_address.clone());
                tracing::warn!(%job_id, error = %error, "email refused permanently");
                Outcome::Failed {
                    job_id,
                    error: error.to_string(),
                    suppress,
                }
            }
            Err(SmtpError::Transient(error)) => self.retry_or_fail(&job, error),
        }
    }

    fn retry_or_fail(&self, job: &ClaimedJob, error: String) -> Outcome {
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        if attempts >= self.settings.max_attempts {
            return Outcome::Failed {
                job_id: job.job_id,
                error: format!("gave up after {attempts} attempts: {error}"),
                suppress: None,
            };
        }
        let delay = retry_delay(
            attempts,
            self.settings.retry_initial,
            self.settings.retry_max,
        );
        Outcome::Retry {
            job_id: job.job_id,
            error,
            next_attempt_at: Utc::now()
                + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
        }
    }

    async fn render(
        &self,
        job: &ClaimedJob,
    ) -> Result<(lettre::address::Envelope, Vec<u8>), RenderError> {
        let rendered = if job.kind == "breach_notice" {
            let incident_id = job
                .incident_id
                .as_deref()
                .context("a breach notice without an incident")?;
            let prepared = self
                .prepared(incident_id, job.thread_url.as_deref())
                .await?;
            return without_panics(|| {
                prepared.format(&job.display_name, &job.to_address, &job.message_id)
            });
        } else {
            let content: TransactionalContent = serde_json::from_value(
                job.content
                    .clone()
                    .context("a transactional email without content")?,
            )
            .context("decoding the stored content")?;
            self.renderer.transactional(
                &content,
                &job.display_name,
                &job.to_address,
                &job.message_id,
            )?
        };
        without_panics(|| rendered.format())
    }

    /// The incident's notice rendered once per process and thread link.
    async fn prepared(
        &self,
        incident_id: &str,
        thread_url: Option<&str>,
    ) -> Result<Arc<PreparedNotice>, RenderError> {
        let key = (incident_id.to_owned(), thread_url.map(str::to_owned));
        if let Some(found) = lock(&self.prepared).get(&key) {
            return Ok(found.clone());
        }
        let incident = self.incident(incident_id).await?;
        let prepared = Arc::new(self.renderer.prepare_breach_notice(&incident, thread_url)?);
        lock(&self.prepared).insert(key, prepared.clone());
        Ok(prepared)
    }

    /// The incident's notice wording, loaded once per process.
    async fn incident(&self, incident_id: &str) -> Result<Arc<IncidentContext>, RenderError> {
        if let Some(found) = lock(&self.incidents).get(incident_id) {
            return Ok(found.clone());
        }
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|error| RenderError::Internal(TransientRender(error).into()))?;
        let report = crate::store::incidents::load_report(&mut connection, incident_id)
            .await
            .map_err(|error| RenderError::Internal(TransientRender(error).into()))?
            .context("the incident of a notice is not recorded")?;
        let report = BreachReported::decode(report.as_slice()).context("decoding the report")?;
        let context = Arc::new(IncidentContext::new(&report));
        lock(&self.incidents).insert(incident_id.to_owned(), context.clone());
        Ok(context)
    }
}

/// A database failure while rendering: the job is retried, not failed.
#[derive(Debug, thiserror::Error)]
#[error("database unavailable while rendering: {0}")]
struct TransientRender(sqlx::Error);

fn is_transient_render(error: &anyhow::Error) -> bool {
    error.downcast_ref::<TransientRender>().is_some()
}

/// The jobs this replica holds as SENDING: claimed, outcome not yet written.
#[derive(Debug, Clone, Default)]
struct HeldJobs(Arc<Mutex<HashSet<Uuid>>>);

impl HeldJobs {
    fn hold(&self, job_ids: impl Iterator<Item = Uuid>) {
        lock(&self.0).extend(job_ids);
    }

    fn let_go(&self, job_ids: impl Iterator<Item = Uuid>) {
        let mut held = lock(&self.0);
        for job_id in job_ids {
            held.remove(&job_id);
        }
    }

    fn all(&self) -> Vec<Uuid> {
        lock(&self.0).iter().copied().collect()
    }
}

/// Lets go of a job whose worker panicked before handing its outcome to the
/// recorder: no longer kept fresh, it is requeued as abandoned (and counted
/// as possibly re-sent) like a job of a stopped replica.
struct Handover<'a> {
    job_id: Option<Uuid>,
    held: &'a HeldJobs,
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        if let Some(job_id) = self.job_id {
            self.held.let_go(std::iter::once(job_id));
        }
    }
}

/// Refreshes the held jobs every `period` until `stop`.
async fn keep_held_jobs_fresh(
    pool: PgPool,
    held: HeldJobs,
    period: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let job_ids = held.all();
        if job_ids.is_empty() {
            continue;
        }
        let refreshed = async {
            let mut connection = pool.acquire().await?;
            claims::keep_claims_fresh(&mut connection, &job_ids).await
        }
        .await;
        if let Err(error) = refreshed {
            tracing::warn!(error = %error, jobs = job_ids.len(), "refreshing the jobs being sent failed");
        }
    }
}

/// Writes outcomes as they come, many per transaction; a failed write is
/// retried (the bounded queue fills meanwhile and the senders wait, so the
/// sender slows down instead of piling up). Written jobs are let go of.
async fn record_outcomes(pool: PgPool, mut received: mpsc::Receiver<Outcome>, held: HeldJobs) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while let Some(outcome) = received.recv().await {
        batch.push(outcome);
        // Sleeping, rather than waking for each outcome, then taking what came.
        tokio::time::sleep(RECORD_LINGER).await;
        while batch.len() < RECORD_BATCH {
            match received.try_recv() {
                Ok(outcome) => {
                    batch.push(outcome);
                }
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(100);
        loop {
            let written = async {
                let mut transaction = pool.begin().await?;
                // Not waiting for the WAL flush is safe here: if PostgreSQL
                // loses this commit in a crash, the jobs stay SENDING and are
                // requeued as possibly re-sent, which the report counts.
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *transaction)
                    .await?;
                claims::plan_for_actual_parameters(&mut transaction).await?;
                claims::record_outcomes(&mut transaction, &batch).await?;
                transaction.commit().await
            }
            .await;
            match written {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(error = %error, outcomes = batch.len(), "recording outcomes failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        held.let_go(batch.iter().map(Outcome::job_id));
        batch.clear();
    }
}
