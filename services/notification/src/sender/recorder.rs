//! The outcome recorder: writes what became of each sent job, many outcomes
//! per transaction (each only if its job is still held under the lease it
//! was claimed under), and lets go of the written jobs. Breach notices
//! written FAILED (every class) or SUPPRESSED are announced on
//! `notification.notice_undelivered` through the outbox in the same
//! transaction (`store::claims::record_outcomes`): this is the only place
//! the sender makes a notice FAILED.

use std::time::Duration;

use candor_platform::messaging::Backoff;
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::held::HeldJobs;
use crate::metrics::DeliveryMetrics;
use crate::store::claims::{self, ClaimedOutcome};

/// Most outcomes written in one transaction.
const RECORD_BATCH: usize = 1000;
/// How long the recorder gathers outcomes before writing them: at
/// thousands of sends a second this makes one transaction of hundreds
/// instead of hundreds of small ones.
const RECORD_LINGER: Duration = Duration::from_millis(20);
/// The first wait after a failed write; it doubles (jittered) up to
/// [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// Writes outcomes as they come, many per transaction; a failed write is
/// retried (the bounded queue fills meanwhile and the workers wait, so the
/// sender slows down instead of piling up). Written jobs are let go of and
/// counted in `metrics`.
pub(super) async fn record_outcomes(
    pool: PgPool,
    mut received: mpsc::Receiver<ClaimedOutcome>,
    held: HeldJobs,
    metrics: DeliveryMetrics,
) {
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
        let mut backoff = Backoff::new(FIRST_RETRY_DELAY, MAX_RETRY_DELAY);
        while let Err(error) = write(&pool, &batch).await {
            tracing::warn!(error = %error, outcomes = batch.len(), "recording outcomes failed, retrying");
            tokio::time::sleep(backoff.next_delay()).await;
        }
        held.let_go(batch.iter().map(|written| written.claim));
        metrics.recorded(batch.iter().map(|written| &written.outcome));
        batch.clear();
    }
}

/// Writes one batch of outcomes in one transaction.
async fn write(pool: &PgPool, batch: &[ClaimedOutcome]) -> Result<(), sqlx::Error> {
    let mut transaction = pool.begin().await?;
    // Not waiting for the WAL flush is safe here: if PostgreSQL loses this
    // commit in a crash, the jobs stay SENDING under a lease that then
    // lapses, and are requeued as possibly re-sent, which the report counts.
    claims::commit_without_flush_wait(&mut transaction).await?;
    claims::plan_for_actual_parameters(&mut transaction).await?;
    claims::record_outcomes(&mut transaction, batch).await?;
    transaction.commit().await
}
