//! The jobs a replica holds as SENDING (claimed, outcome not yet written),
//! and the task that keeps them fresh so that `claims::requeue_stale` leaves
//! them alone however long they wait behind a slow SMTP server.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_platform::sync::lock;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::claims;

/// The jobs this replica holds as SENDING: claimed, outcome not yet written.
#[derive(Debug, Clone, Default)]
pub(super) struct HeldJobs(Arc<Mutex<HashSet<Uuid>>>);

impl HeldJobs {
    /// Holds newly claimed jobs.
    pub(super) fn hold(&self, job_ids: impl Iterator<Item = Uuid>) {
        lock(&self.0).extend(job_ids);
    }

    /// Lets go of jobs whose outcome is written (or whose worker died).
    pub(super) fn let_go(&self, job_ids: impl Iterator<Item = Uuid>) {
        let mut held = lock(&self.0);
        for job_id in job_ids {
            held.remove(&job_id);
        }
    }

    fn all(&self) -> Vec<Uuid> {
        lock(&self.0).iter().copied().collect()
    }
}

/// Refreshes the held jobs every `period` until `stop`.
pub(super) async fn keep_held_jobs_fresh(
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
