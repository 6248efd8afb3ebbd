//! The send workers: `SMTP_CONCURRENCY` long-lived tasks, each taking the
//! next claimed job from a shared queue, rendering it (breach notices from
//! the bounded [`NoticeCache`]), sending it over its SMTP connection and
//! handing the outcome to the recorder. A task per job meant a spawn and,
//! with more tasks than connections, a wait for a pool slot and a wake-up per
//! message; a worker keeps its connection from one job to the next.
//!
//! Right before its SMTP transaction a worker checks that the lease the job
//! was claimed under still holds ([`LeaseState::holds`]); if it lapsed, the
//! job is given back unsent (another replica may have it by now).

use std::sync::Arc;

use anyhow::Context as _;
use candor_platform::messaging::Backoff;
use candor_proto::events::v1::BreachReported;
use chrono::Utc;
use prost::Message as _;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::claimer::QueuedJob;
use super::lease::LeaseState;
use crate::notice::{
    HeldData, IncidentContext, NoticeCache, PreparedNotice, RenderError, Renderer,
    TransactionalContent, without_panics,
};
use crate::smtp::{SmtpError, SmtpPool};
use crate::store::JobKind;
use crate::store::claims::{ClaimedJob, ClaimedOutcome, Outcome};
use crate::store::failures::FailureClass;

/// The claimed jobs, shared by the workers (one takes each).
type SharedQueue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<QueuedJob>>>;

/// The running workers.
pub(super) struct Workers {
    deliverer: Arc<Deliverer>,
    queued: SharedQueue,
    outcomes: mpsc::Sender<ClaimedOutcome>,
    running: JoinSet<()>,
}

impl Workers {
    /// Starts `concurrency` (at least one) workers on `queued`.
    pub(super) fn start(
        deliverer: Arc<Deliverer>,
        queued: mpsc::UnboundedReceiver<QueuedJob>,
        outcomes: mpsc::Sender<ClaimedOutcome>,
        concurrency: usize,
    ) -> Self {
        let mut workers = Self {
            deliverer,
            queued: Arc::new(tokio::sync::Mutex::new(queued)),
            outcomes,
            running: JoinSet::new(),
        };
        for _ in 0..concurrency.max(1) {
            workers.spawn();
        }
        workers
    }

    fn spawn(&mut self) {
        self.running.spawn(send_queued(
            self.deliverer.clone(),
            self.queued.clone(),
            self.outcomes.clone(),
        ));
    }

    /// Starts a worker for each one that ended: only a panic ends a worker
    /// while the queue is open.
    pub(super) fn replace_ended(&mut self) {
        while let Some(ended) = self.running.try_join_next() {
            tracing::error!(error = ?ended.err(), "a send worker ended; starting another");
            self.spawn();
        }
    }

    /// Waits for the workers to send what is queued once the queue's sender
    /// is dropped; the recorder then sees its queue closed.
    pub(super) async fn finish(mut self) {
        while self.running.join_next().await.is_some() {}
    }
}

/// One worker: delivers queued jobs one at a time until the queue is closed
/// and empty.
async fn send_queued(
    deliverer: Arc<Deliverer>,
    queued: SharedQueue,
    outcomes: mpsc::Sender<ClaimedOutcome>,
) {
    loop {
        let next = queued.lock().await.recv().await;
        let Some((job, permit)) = next else { break };
        let mut handover = Handover {
            unfinished: Some(ClaimedOutcome {
                claim: job.claim,
                outcome: Outcome::Released {
                    job_id: job.job_id,
                    possibly_sent: true,
                },
            }),
            outcomes: &outcomes,
        };
        let claim = job.claim;
        let outcome = deliverer.deliver(job).await;
        handover.unfinished = None;
        let _ = outcomes.send(ClaimedOutcome { claim, outcome }).await;
        drop(permit);
    }
}

/// Gives back a job whose worker panicked before handing its outcome to the
/// recorder: queued again as possibly re-sent (the panic may have come
/// during its SMTP transaction). Left SENDING, it would wait for the end of
/// the replica's lease.
struct Handover<'a> {
    unfinished: Option<ClaimedOutcome>,
    outcomes: &'a mpsc::Sender<ClaimedOutcome>,
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        let Some(outcome) = self.unfinished.take() else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(outcome)) = self.outcomes.try_send(outcome) {
            let outcomes = self.outcomes.clone();
            tokio::spawn(async move {
                let _ = outcomes.send(outcome).await;
            });
        }
    }
}

/// What a worker needs to turn a claimed job into an outcome.
pub(super) struct Deliverer {
    /// Where incidents' reports are loaded from on a cache miss.
    pub(super) pool: PgPool,
    /// The SMTP connections, one per worker.
    pub(super) smtp: Arc<SmtpPool>,
    /// Renders every email.
    pub(super) renderer: Arc<Renderer>,
    /// Prepared breach notices and the incidents' wording, bounded.
    pub(super) notices: NoticeCache,
    /// Attempts before a transient failure is final.
    pub(super) max_attempts: u32,
    /// The delay before a job's next attempt, by its attempts so far.
    pub(super) retry: Backoff,
    /// The replica's lease: a job is sent only while the lease it was
    /// claimed under holds.
    pub(super) lease: Arc<LeaseState>,
}

impl Deliverer {
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
                    class: FailureClass::Unsendable,
                };
            }
        };
        if !self.lease.holds(job.claim.lease_id) {
            return Outcome::Released {
                job_id,
                possibly_sent: false,
            };
        }
        match self.smtp.send(&email.0, &email.1).await {
            Ok(()) => Outcome::Sent {
                job_id,
                sent_at: Utc::now(),
                without_thread_link: job.kind == JobKind::BreachNotice && job.thread_url.is_none(),
            },
            Err(error @ SmtpError::Permanent(_)) => {
                let refused = error.is_reply();
                tracing::warn!(%job_id, error = %error, "email refused permanently");
                Outcome::Failed {
                    job_id,
                    error: error.to_string(),
                    suppress: refused.then(|| job.to_address.clone()),
                    class: if refused {
                        FailureClass::Refused
                    } else {
                        FailureClass::Unsendable
                    },
                }
            }
            Err(SmtpError::Transient(error)) => self.retry_or_fail(&job, error),
        }
    }

    fn retry_or_fail(&self, job: &ClaimedJob, error: String) -> Outcome {
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        if attempts >= self.max_attempts {
            return Outcome::Failed {
                job_id: job.job_id,
                error: format!("gave up after {attempts} attempts: {error}"),
                suppress: None,
                class: FailureClass::RetriesExhausted,
            };
        }
        let delay = self.retry.delay_after(attempts);
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
        let rendered = match job.kind {
            JobKind::BreachNotice => {
                let prepared = self.prepared(job).await?;
                return without_panics(|| {
                    prepared.format(&job.display_name, &job.to_address, &job.message_id)
                });
            }
            JobKind::PasswordReset
            | JobKind::DeactivationConfirmation
            | JobKind::PasswordChanged => {
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
            }
        };
        without_panics(|| rendered.format())
    }

    /// The job's incident notice, rendered once per incident, thread link
    /// and kind of member while cached.
    async fn prepared(&self, job: &ClaimedJob) -> Result<Arc<PreparedNotice>, RenderError> {
        let incident_id = job
            .incident_id
            .as_deref()
            .context("a breach notice without an incident")?;
        // A notice queued without content (by an older version, or from a
        // batch that did not say what was held) claims every class.
        let held: Option<HeldData> = job
            .content
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .context("decoding what was held about the member")?;
        self.notices
            .prepared(
                &self.renderer,
                incident_id,
                job.thread_url.as_deref(),
                held.as_ref(),
                || self.incident(incident_id),
            )
            .await
    }

    /// The incident's notice wording, from its stored report.
    async fn incident(&self, incident_id: &str) -> Result<IncidentContext, RenderError> {
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
        Ok(IncidentContext::new(&report))
    }
}

/// A database failure while rendering: the job is retried, not failed.
#[derive(Debug, thiserror::Error)]
#[error("database unavailable while rendering: {0}")]
struct TransientRender(sqlx::Error);

fn is_transient_render(error: &anyhow::Error) -> bool {
    error.downcast_ref::<TransientRender>().is_some()
}
