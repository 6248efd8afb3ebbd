//! Sender leases: every running sender holds a row of `sender_leases` it
//! renews; each claim it makes is written under the lease (`sender_claims`,
//! and `email_jobs.claimed_by` on the jobs). A lease that was not renewed in
//! time is deleted by any replica's reaper, and its SENDING jobs are queued
//! again, counted as possibly re-sent.
//!
//! The race between a claim under a lease and the reaper deleting it is
//! settled by a row lock: a claim locks its live lease row
//! ([`lock_live`], `FOR KEY SHARE`) in the claim's transaction, and
//! [`reap_expired`] deletes the lease (waiting for any claim holding it),
//! then requeues its jobs in a second statement of the same READ COMMITTED
//! transaction, whose fresh snapshot sees every claim committed while the
//! delete waited. A claim that comes after the delete finds no live lease
//! and claims nothing.

use sqlx::PgConnection;
use uuid::Uuid;

/// One claim of a lease: the lease and the claim's number under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimRef {
    /// The lease the jobs were claimed under.
    pub lease_id: Uuid,
    /// The claim's number under the lease, from 1.
    pub number: i64,
}

/// What a reaping found: the leases it deleted and the jobs it queued again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaped {
    /// The expired leases deleted.
    pub leases: Vec<Uuid>,
    /// Their jobs that were still SENDING, now queued again.
    pub requeued: u64,
}

/// Starts a lease `lease_id` held by `holder` for `seconds` (by the
/// database's clock).
pub async fn start(
    connection: &mut PgConnection,
    lease_id: Uuid,
    holder: &str,
    seconds: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sender_leases (lease_id, holder, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
        lease_id,
        holder,
        seconds,
    )
    .execute(connection)
    .await?;
    Ok(())
}

/// Extends a live lease to `seconds` from now. False when the lease has
/// expired or is gone (reaped): it must not be used again.
pub async fn renew(
    connection: &mut PgConnection,
    lease_id: Uuid,
    seconds: f64,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query!(
        "UPDATE sender_leases SET renewed_at = now(), expires_at = now() + make_interval(secs => $2) \
         WHERE lease_id = $1 AND expires_at > now()",
        lease_id,
        seconds,
    )
    .execute(connection)
    .await?
    .rows_affected();
    Ok(renewed == 1)
}

/// Forgets claims of a lease whose every job has its outcome written (the
/// reaper has nothing left to requeue in them).
pub async fn forget_claims(
    connection: &mut PgConnection,
    lease_id: Uuid,
    numbers: &[i64],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM sender_claims WHERE lease_id = $1 AND claim_number = ANY($2)",
        lease_id,
        numbers,
    )
    .execute(connection)
    .await?
    .rows_affected())
}

/// Locks the lease row for the rest of the transaction if the lease is live
/// (`FOR KEY SHARE`: a renewal may still update it, a reaper's delete waits
/// for the commit). False when it has expired or is gone: claim nothing.
pub async fn lock_live(connection: &mut PgConnection, lease_id: Uuid) -> Result<bool, sqlx::Error> {
    let live = sqlx::query_scalar!(
        "SELECT lease_id FROM sender_leases WHERE lease_id = $1 AND expires_at > now() \
         FOR KEY SHARE",
        lease_id,
    )
    .fetch_optional(connection)
    .await?;
    Ok(live.is_some())
}

/// Deletes every expired lease and queues its SENDING jobs again, marked
/// possibly re-sent. Must run in a READ COMMITTED transaction (the default)
/// of its own, committed by the caller: the requeue's snapshot, taken after
/// the delete, then sees every claim committed under the deleted leases.
/// Cheap when nothing expired: one look at the (tiny) leases table.
pub async fn reap_expired(connection: &mut PgConnection) -> Result<Reaped, sqlx::Error> {
    let leases = sqlx::query_scalar!(
        "DELETE FROM sender_leases WHERE expires_at <= now() RETURNING lease_id"
    )
    .fetch_all(&mut *connection)
    .await?;
    if leases.is_empty() {
        return Ok(Reaped::default());
    }
    let requeued = requeue_claims_of(connection, &leases).await?;
    Ok(Reaped { leases, requeued })
}

/// Ends a lease at shutdown: deletes it and its claims, queuing again (as
/// possibly re-sent) any job still SENDING under it. Run in a transaction
/// of its own, as [`reap_expired`]. Returns the jobs requeued.
pub async fn end(connection: &mut PgConnection, lease_id: Uuid) -> Result<u64, sqlx::Error> {
    sqlx::query!("DELETE FROM sender_leases WHERE lease_id = $1", lease_id)
        .execute(&mut *connection)
        .await?;
    requeue_claims_of(connection, &[lease_id]).await
}

/// Deletes the claims of `leases` (already deleted) and queues again those
/// of their jobs still SENDING under one of them; a job claimed since under
/// another lease, or final, is left alone.
async fn requeue_claims_of(
    connection: &mut PgConnection,
    leases: &[Uuid],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "WITH claims AS ( \
            DELETE FROM sender_claims WHERE lease_id = ANY($1) RETURNING job_ids), \
         requeued AS ( \
            UPDATE email_jobs SET state = 'queued', possibly_resent = true, next_attempt_at = now(), \
                   updated_at = now(), claimed_by = NULL \
            WHERE job_id = ANY(ARRAY(SELECT unnest(job_ids) FROM claims)) \
              AND state = 'sending' AND claimed_by = ANY($1) \
            RETURNING job_id, priority, next_attempt_at, incident_id) \
         INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id) \
         SELECT job_id, priority, next_attempt_at, incident_id FROM requeued",
        leases,
    )
    .execute(connection)
    .await?
    .rows_affected())
}

/// Makes the rest of this transaction give up waiting for a row lock after
/// `milliseconds` (a reaper must not hang behind a frozen claimer).
pub async fn limit_lock_wait(
    connection: &mut PgConnection,
    milliseconds: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT set_config('lock_timeout', $1, true)",
        milliseconds.to_string(),
    )
    .fetch_one(connection)
    .await?;
    Ok(())
}
