//! The reaper every replica runs: every second it deletes the sender leases
//! that expired (their replica died, or lost the database for longer than
//! the lease) and queues their SENDING jobs again, counted as possibly
//! re-sent; now and then it also requeues jobs left SENDING without a lease
//! (by a release before leases) for longer than `SENDING_STALE_SECONDS`.
//! It never makes a notice final (FAILED or otherwise), so it announces
//! nothing on `notification.notice_undelivered`.
//!
//! A task of its own, not a step of the claim loop: the claimer waits for
//! room in its window, which a slow SMTP server can keep full for long.

use std::time::Duration;

use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::{claims, leases};

/// How often expired leases are looked for: the table holds a row per
/// running replica, so this is cheap.
const REAP_EVERY: Duration = Duration::from_secs(1);
/// How often jobs left SENDING without a lease are looked for (a scan of
/// the jobs table); never less often than their staleness itself.
const STALE_CHECK: Duration = Duration::from_secs(30);
/// The longest a reaping waits for a claim holding the lease row: a claim
/// takes milliseconds, and a frozen claimer must not freeze the reaper.
const LOCK_WAIT_MS: u64 = 2_000;

/// Reaps expired leases every [`REAP_EVERY`] until `stop`.
pub(super) async fn reap_until(pool: PgPool, stale_after: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(REAP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_stale_check = Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        reap_expired_leases(&pool).await;
        if Instant::now() >= next_stale_check {
            next_stale_check = Instant::now() + STALE_CHECK.min(stale_after);
            requeue_stale(&pool, stale_after).await;
        }
    }
}

async fn reap_expired_leases(pool: &PgPool) {
    let reaped = async {
        let mut transaction = pool.begin().await?;
        leases::limit_lock_wait(&mut transaction, LOCK_WAIT_MS).await?;
        let reaped = leases::reap_expired(&mut transaction).await?;
        transaction.commit().await?;
        Ok::<_, sqlx::Error>(reaped)
    }
    .await;
    match reaped {
        Ok(reaped) if reaped.leases.is_empty() => {}
        Ok(reaped) => tracing::warn!(
            leases = ?reaped.leases,
            requeued = reaped.requeued,
            "requeued the jobs of expired sender leases"
        ),
        Err(error) => tracing::warn!(error = %error, "reaping expired sender leases failed"),
    }
}

async fn requeue_stale(pool: &PgPool, stale_after: Duration) {
    let result = async {
        let mut connection = pool.acquire().await?;
        claims::requeue_stale(&mut connection, stale_after.as_secs_f64()).await
    }
    .await;
    match result {
        Ok(0) => {}
        Ok(requeued) => tracing::warn!(requeued, "requeued jobs left sending without a lease"),
        Err(error) => tracing::warn!(error = %error, "requeuing jobs left sending failed"),
    }
}
