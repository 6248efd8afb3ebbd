//! This replica's sender lease: started at the sender's start, renewed
//! every third of `SENDER_LEASE_SECONDS`, ended (deleted) once the sender
//! finished at shutdown.
//!
//! The replica trusts its lease only until its local expiry: the moment its
//! last confirmed renewal was asked for, plus the lease, minus a margin (the
//! database counts from when it ran the renewal, which is later). Past that
//! without a confirmed renewal (the database did not answer) the lease has
//! lapsed for this replica too, whatever the database says: the claimer
//! stops claiming, the workers give their jobs back unsent instead of
//! starting an SMTP transaction (another replica may already have them), and
//! once the database answers the replica starts a new lease; the old one is
//! left to expire and be reaped. It is never renewed again, so the jobs the
//! workers gave up are requeued whoever writes first.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::held::HeldJobs;
use crate::store::leases;

/// The lease this replica holds, if any, and until when it trusts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LiveLease {
    /// The lease's id (`sender_leases.lease_id`).
    pub(super) lease_id: Uuid,
    /// The local expiry: past it, the lease has lapsed.
    valid_until: Instant,
}

/// The replica's lease as the claimer and the workers see it.
#[derive(Debug)]
pub(super) struct LeaseState(watch::Sender<Option<LiveLease>>);

impl Default for LeaseState {
    fn default() -> Self {
        Self(watch::Sender::new(None))
    }
}

impl LeaseState {
    /// The lease to claim under, if one is live.
    pub(super) fn live(&self) -> Option<Uuid> {
        self.0
            .borrow()
            .filter(|lease| Instant::now() < lease.valid_until)
            .map(|lease| lease.lease_id)
    }

    /// Whether jobs claimed under `lease_id` may still be sent: it is the
    /// current lease and has not lapsed.
    pub(super) fn holds(&self, lease_id: Uuid) -> bool {
        self.live() == Some(lease_id)
    }

    /// Waits until a lease is started or renewed (or up to `most`).
    pub(super) async fn changed(&self, most: Duration) {
        let mut receiver = self.0.subscribe();
        let _ = tokio::time::timeout(most, receiver.changed()).await;
    }

    /// Gives up `lease_id` (a claim under it may have committed unknown to
    /// this replica): it is no longer used nor renewed, and expires.
    pub(super) fn abandon(&self, lease_id: Uuid) {
        self.0.send_if_modified(|current| {
            let abandoned = current.is_some_and(|lease| lease.lease_id == lease_id);
            if abandoned {
                *current = None;
            }
            abandoned
        });
    }

    /// Whether `lease_id` was given up with [`LeaseState::abandon`].
    fn abandoned(&self, lease_id: Uuid) -> bool {
        self.0
            .borrow()
            .is_none_or(|lease| lease.lease_id != lease_id)
    }

    fn set(&self, lease: Option<LiveLease>) {
        self.0.send_replace(lease);
    }
}

/// How long the lease lasts, and how it is renewed.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeaseTiming {
    /// The lease's length, as written to the database.
    pub(super) lease: Duration,
}

impl LeaseTiming {
    /// A renewal every third of the lease: two may fail before it lapses.
    fn renew_every(self) -> Duration {
        self.lease / 3
    }

    /// The wait before trying again after a failed renewal or start.
    fn retry_after(self) -> Duration {
        (self.lease / 10).clamp(Duration::from_millis(200), Duration::from_secs(1))
    }

    /// How long a renewal asked for at `asked` is trusted locally: the lease
    /// less a fifth, for the SMTP transaction a worker may start just before
    /// the local expiry and for the database's own clock.
    fn valid_until(self, asked: Instant) -> Instant {
        asked + self.lease - self.lease / 5
    }
}

/// Holds a lease until `stop`, renewing it and forgetting the claims whose
/// jobs all have outcomes ([`HeldJobs::take_settled`]); starts a new one
/// whenever the current one lapsed. Returns the lease held at the end, for
/// [`end_lease`].
pub(super) async fn keep_lease(
    pool: PgPool,
    state: std::sync::Arc<LeaseState>,
    held: HeldJobs,
    timing: LeaseTiming,
    stop: CancellationToken,
) -> Option<Uuid> {
    let holder = holder();
    let seconds = timing.lease.as_secs_f64();
    let mut current: Option<LiveLease> = None;
    let mut next_renewal = Instant::now();
    loop {
        if let Some(lease) = current
            && (Instant::now() >= lease.valid_until || state.abandoned(lease.lease_id))
        {
            tracing::warn!(lease_id = %lease.lease_id, "the sender lease lapsed or was given up; starting another");
            state.set(None);
            current = None;
            next_renewal = Instant::now();
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(next_renewal) => {}
        }
        let asked = Instant::now();
        let Some(lease) = current else {
            let lease_id = Uuid::new_v4();
            let started = async {
                let mut connection = pool.acquire().await?;
                leases::start(&mut connection, lease_id, &holder, seconds).await
            }
            .await;
            match started {
                Ok(()) => {
                    tracing::info!(%lease_id, %holder, "sender lease started");
                    let lease = LiveLease {
                        lease_id,
                        valid_until: timing.valid_until(asked),
                    };
                    current = Some(lease);
                    state.set(current);
                    next_renewal = asked + timing.renew_every();
                }
                Err(error) => {
                    tracing::warn!(error = %error, "starting a sender lease failed");
                    next_renewal = Instant::now() + timing.retry_after();
                }
            }
            continue;
        };
        match renew(&pool, lease.lease_id, seconds, &held).await {
            Ok(true) => {
                let renewed = LiveLease {
                    lease_id: lease.lease_id,
                    valid_until: timing.valid_until(asked),
                };
                current = Some(renewed);
                state.set(current);
                next_renewal = asked + timing.renew_every();
            }
            Ok(false) => {
                tracing::warn!(lease_id = %lease.lease_id, "the sender lease expired in the database; starting another");
                state.set(None);
                current = None;
                next_renewal = Instant::now();
            }
            Err(error) => {
                tracing::warn!(error = %error, lease_id = %lease.lease_id, "renewing the sender lease failed");
                next_renewal = Instant::now() + timing.retry_after();
            }
        }
    }
    current.map(|lease| lease.lease_id)
}

/// Renews the lease, then forgets its settled claims (put back to be
/// forgotten at the next renewal if that fails).
async fn renew(
    pool: &PgPool,
    lease_id: Uuid,
    seconds: f64,
    held: &HeldJobs,
) -> Result<bool, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    if !leases::renew(&mut connection, lease_id, seconds).await? {
        return Ok(false);
    }
    let settled = held.take_settled(lease_id);
    if !settled.is_empty()
        && let Err(error) = leases::forget_claims(&mut connection, lease_id, &settled).await
    {
        held.put_back_settled(lease_id, settled);
        tracing::warn!(error = %error, "forgetting settled claims failed");
    }
    Ok(true)
}

/// Ends the lease at shutdown, once every outcome is written: deleted, so
/// nobody waits for it to expire. Any job still SENDING under it (an
/// outcome that could not be written) is queued again as possibly re-sent.
pub(super) async fn end_lease(pool: &PgPool, lease_id: Uuid) {
    let ended = async {
        let mut transaction = pool.begin().await?;
        let requeued = leases::end(&mut transaction, lease_id).await?;
        transaction.commit().await?;
        Ok::<_, sqlx::Error>(requeued)
    }
    .await;
    match ended {
        Ok(0) => tracing::info!(%lease_id, "sender lease ended"),
        Ok(requeued) => {
            tracing::warn!(%lease_id, requeued, "sender lease ended; requeued jobs it still held");
        }
        Err(error) => {
            tracing::warn!(error = %error, %lease_id, "ending the sender lease failed; it will expire");
        }
    }
}

/// Who holds the lease, for operators: `hostname/pid`.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("{host}/{}", std::process::id())
}
