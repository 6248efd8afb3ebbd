//! The sender's side of the jobs table: the shared rate bucket, claiming
//! due jobs from `email_queue` (`FOR UPDATE SKIP LOCKED`, so replicas share
//! the work) under a sender lease ([`super::leases`]), recording outcomes in
//! bulk (a retry goes back into the queue) for jobs still held under the
//! lease they were claimed under, and requeuing SENDING jobs left without a
//! lease.

use std::collections::{HashMap, HashSet};

use candor_proto::events::v1::UndeliveredReason;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::JobKind;
use super::failures::FailureClass;
use super::leases::ClaimRef;
use super::undelivered::{self, Undelivered};

/// Plans the rest of this transaction's statements for their actual
/// parameters and table sizes. A connection otherwise keeps a generic plan
/// per statement, made after its first few runs — perhaps while the tables
/// held a handful of jobs — until something invalidates it: with autovacuum
/// off nothing does, and the claim's plan made for an empty queue (scanning
/// it whole) took seconds per claim at a million jobs.
pub async fn plan_for_actual_parameters(connection: &mut PgConnection) -> Result<(), sqlx::Error> {
    // `set_config` answers with the value set, which is not needed.
    sqlx::query_scalar!("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
        .fetch_one(connection)
        .await?;
    Ok(())
}

/// Lets this transaction commit without waiting for its WAL to reach disk
/// (`synchronous_commit = off` until it ends): a crash may lose the commit,
/// never corrupt it. Only for writes that are safe to lose; see the caller.
pub async fn commit_without_flush_wait(connection: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SET LOCAL synchronous_commit = off")
        .execute(connection)
        .await?;
    Ok(())
}

/// Takes up to `wanted` send tokens from the bucket every replica shares
/// (`rate` tokens per second, at most `burst` saved), but only once at
/// least `least` of them (or `wanted`, if fewer) are there: claims of a few
/// tokens at a time rather than one claim per token. Must run in the same
/// transaction as the claim and [`spend_tokens`]: the row lock serialises
/// the replicas. Returns the tokens granted and, when none, the seconds
/// until enough are there.
pub async fn take_tokens(
    connection: &mut PgConnection,
    rate: f64,
    burst: f64,
    least: usize,
    wanted: usize,
) -> Result<(usize, f64), sqlx::Error> {
    let available = sqlx::query_scalar!(
        "UPDATE send_rate_bucket SET \
            tokens = least($2::float8, tokens + extract(epoch FROM clock_timestamp() - refilled_at)::float8 * $1::float8), \
            refilled_at = clock_timestamp() \
         WHERE id = 1 RETURNING tokens",
        rate,
        burst,
    )
    .fetch_one(connection)
    .await?;
    let whole = available.max(0.0).floor();
    let needed = least.clamp(1, wanted.max(1));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = whole as usize;
    if whole < needed {
        let wait = ((needed as f64 - available) / rate).max(0.001);
        return Ok((0, wait));
    }
    Ok((whole.min(wanted), 0.0))
}

/// Spends `used` tokens taken with [`take_tokens`].
pub async fn spend_tokens(connection: &mut PgConnection, used: usize) -> Result<(), sqlx::Error> {
    if used == 0 {
        return Ok(());
    }
    let spent = used as f64;
    sqlx::query!(
        "UPDATE send_rate_bucket SET tokens = tokens - $1 WHERE id = 1",
        spent
    )
    .execute(connection)
    .await?;
    Ok(())
}

/// A job claimed for sending (now SENDING, its attempt counted).
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job_id: Uuid,
    pub kind: JobKind,
    pub incident_id: Option<String>,
    pub to_address: String,
    pub display_name: String,
    pub content: Option<serde_json::Value>,
    pub message_id: String,
    pub attempts: i32,
    /// The incident's forum thread link, when known.
    pub thread_url: Option<String>,
    /// The address failed permanently before: do not send.
    pub address_suppressed: bool,
    /// The claim (and so the lease) it was claimed under.
    pub claim: ClaimRef,
}

/// Claims up to `limit` due jobs, transactional emails first, and marks them
/// SENDING under `claim` (recorded in `sender_claims` for the reaper). Queue
/// rows another replica holds are skipped; the rows taken leave the queue,
/// and those of jobs no longer QUEUED (suppressed since) are dropped without
/// a claim. The caller must hold the claim's lease with
/// [`super::leases::lock_live`] in the same transaction.
pub async fn claim_due(
    connection: &mut PgConnection,
    claim: ClaimRef,
    limit: usize,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    // `= ANY(ARRAY(…))` rather than joins: a plan for a `LIMIT` it cannot
    // see (a generic plan guesses a tenth of the queue) hashed both tables
    // when joined; an array is looked up, by TID and by primary key.
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let claimed = sqlx::query!(
        "WITH taken AS ( \
            DELETE FROM email_queue WHERE ctid = ANY(ARRAY( \
                SELECT ctid FROM email_queue \
                WHERE next_attempt_at <= now() \
                ORDER BY priority, next_attempt_at \
                LIMIT $1 \
                FOR UPDATE SKIP LOCKED)) \
            RETURNING job_id), \
         claimed AS ( \
            UPDATE email_jobs j \
               SET state = 'sending', attempts = j.attempts + 1, updated_at = now(), claimed_by = $2 \
             WHERE j.job_id = ANY(ARRAY(SELECT job_id FROM taken)) AND j.state = 'queued' \
            RETURNING j.job_id, j.kind, j.incident_id, j.to_address, j.display_name, j.content, \
                      j.message_id, j.attempts), \
         noted AS ( \
            INSERT INTO sender_claims (lease_id, claim_number, job_ids) \
            SELECT $2, $3, array_agg(job_id) FROM claimed HAVING count(*) > 0) \
         SELECT job_id AS \"job_id!\", kind AS \"kind!: JobKind\", incident_id, \
                to_address AS \"to_address!\", display_name AS \"display_name!\", content, \
                message_id AS \"message_id!\", attempts AS \"attempts!\" \
         FROM claimed",
        limit,
        claim.lease_id,
        claim.number,
    )
    .fetch_all(&mut *connection)
    .await?;
    // The link and the suppression are filled in below, for the whole claim.
    let mut jobs: Vec<ClaimedJob> = claimed
        .into_iter()
        .map(|row| ClaimedJob {
            job_id: row.job_id,
            kind: row.kind,
            incident_id: row.incident_id,
            to_address: row.to_address,
            display_name: row.display_name,
            content: row.content,
            message_id: row.message_id,
            attempts: row.attempts,
            thread_url: None,
            address_suppressed: false,
            claim,
        })
        .collect();
    if !jobs.is_empty() {
        look_up_links_and_suppressions(connection, &mut jobs).await?;
    }
    Ok(jobs)
}

/// Fills in the claimed jobs' thread links and suppressed addresses with one
/// lookup each for the whole claim. (As subqueries of the claim they ran per
/// job: two index probes and a `lower()` each, about a fifth of PostgreSQL's
/// samples while the service sent; see BENCHMARKS.md, round four.)
async fn look_up_links_and_suppressions(
    connection: &mut PgConnection,
    jobs: &mut [ClaimedJob],
) -> Result<(), sqlx::Error> {
    let mut incidents: Vec<&str> = jobs
        .iter()
        .filter_map(|job| job.incident_id.as_deref())
        .collect();
    incidents.sort_unstable();
    incidents.dedup();
    let links: HashMap<String, String> = if incidents.is_empty() {
        HashMap::new()
    } else {
        // `as _`: the check wants `&[String]` for a text[]; borrowed names
        // encode the same.
        sqlx::query!(
            "SELECT incident_id, thread_url FROM incident_threads WHERE incident_id = ANY($1)",
            &incidents as _,
        )
        .fetch_all(&mut *connection)
        .await?
        .into_iter()
        .map(|row| (row.incident_id, row.thread_url))
        .collect()
    };
    let addresses: Vec<&str> = jobs.iter().map(|job| job.to_address.as_str()).collect();
    let suppressed: HashSet<String> = sqlx::query_scalar!(
        "SELECT t.address AS \"address!\" FROM UNNEST($1::text[]) AS t(address) \
         JOIN suppressed_addresses s ON s.address = lower(t.address)",
        &addresses as _,
    )
    .fetch_all(connection)
    .await?
    .into_iter()
    .collect();
    for job in jobs {
        job.thread_url = job
            .incident_id
            .as_ref()
            .and_then(|incident| links.get(incident).cloned());
        job.address_suppressed = suppressed.contains(&job.to_address);
    }
    Ok(())
}

/// What became of one claimed job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server accepted it.
    Sent {
        job_id: Uuid,
        sent_at: DateTime<Utc>,
        without_thread_link: bool,
    },
    /// A transient failure: queued again for `next_attempt_at`.
    Retry {
        job_id: Uuid,
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// Final failure; `suppress` is the address to put on the suppression
    /// list (after a 5xx); `class` says whether retrying may help.
    Failed {
        job_id: Uuid,
        error: String,
        suppress: Option<String>,
        class: FailureClass,
    },
    /// Not sent on purpose (the address is on the suppression list).
    Suppressed { job_id: Uuid },
    /// Given back to the queue: not sent because the lease lapsed before
    /// its SMTP transaction (the attempt is not counted), or
    /// `possibly_sent` because its worker died during it.
    Released { job_id: Uuid, possibly_sent: bool },
}

impl Outcome {
    /// The job this is the outcome of.
    pub fn job_id(&self) -> Uuid {
        match self {
            Self::Sent { job_id, .. }
            | Self::Retry { job_id, .. }
            | Self::Failed { job_id, .. }
            | Self::Suppressed { job_id }
            | Self::Released { job_id, .. } => *job_id,
        }
    }
}

/// An outcome and the claim its job was claimed under: it is written only
/// if the job is still SENDING under that claim's lease (not requeued by a
/// reaper since, nor claimed again).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedOutcome {
    /// The claim the job was sent under.
    pub claim: ClaimRef,
    /// What became of it.
    pub outcome: Outcome,
}

/// Records outcomes in a few set-based statements (one per kind), each only
/// for jobs still SENDING under the lease they were claimed under: an
/// outcome that comes after a reaper requeued its job (the lease lapsed)
/// changes nothing but the suppression list. A breach notice that becomes
/// FAILED or SUPPRESSED (unless its member deactivated) is announced as
/// undelivered through the outbox, in the caller's transaction.
pub async fn record_outcomes(
    connection: &mut PgConnection,
    outcomes: &[ClaimedOutcome],
) -> Result<(), sqlx::Error> {
    let mut sent = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut retry = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut failed = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut suppress = (Vec::new(), Vec::new());
    let mut suppressed = (Vec::new(), Vec::new());
    let mut released = (Vec::new(), Vec::new(), Vec::new());
    // Breach notices that became FAILED or SUPPRESSED: announced in this
    // transaction (`notification.notice_undelivered`).
    let mut unreached = Vec::new();
    for ClaimedOutcome { claim, outcome } in outcomes {
        let lease = claim.lease_id;
        match outcome {
            Outcome::Sent {
                job_id,
                sent_at,
                without_thread_link,
            } => {
                sent.0.push(*job_id);
                sent.1.push(lease);
                sent.2.push(*sent_at);
                sent.3.push(*without_thread_link);
            }
            Outcome::Retry {
                job_id,
                error,
                next_attempt_at,
            } => {
                retry.0.push(*job_id);
                retry.1.push(lease);
                retry.2.push(error.clone());
                retry.3.push(*next_attempt_at);
            }
            Outcome::Failed {
                job_id,
                error,
                suppress: address,
                class,
            } => {
                failed.0.push(*job_id);
                failed.1.push(lease);
                failed.2.push(error.clone());
                failed.3.push(class.as_str());
                if let Some(address) = address {
                    suppress.0.push(address.to_lowercase());
                    suppress.1.push(error.clone());
                }
            }
            Outcome::Suppressed { job_id } => {
                suppressed.0.push(*job_id);
                suppressed.1.push(lease);
            }
            Outcome::Released {
                job_id,
                possibly_sent,
            } => {
                released.0.push(*job_id);
                released.1.push(lease);
                released.2.push(*possibly_sent);
            }
        }
    }
    if !sent.0.is_empty() {
        sqlx::query!(
            "UPDATE email_jobs j SET state = 'sent', sent_at = t.sent_at, updated_at = now(), \
                    sent_without_thread_link = t.without_link, \
                    content = CASE WHEN j.kind = 'breach_notice' THEN j.content END \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::bool[]) \
                  AS t(job_id, lease_id, sent_at, without_link) \
             WHERE j.job_id = t.job_id AND j.state = 'sending' AND j.claimed_by = t.lease_id",
            &sent.0,
            &sent.1,
            &sent.2,
            &sent.3,
        )
        .execute(&mut *connection)
        .await?;
    }
    if !retry.0.is_empty() {
        sqlx::query!(
            "WITH retried AS ( \
                UPDATE email_jobs j SET state = 'queued', last_error = t.error, \
                       next_attempt_at = t.next_attempt_at, updated_at = now(), claimed_by = NULL \
                FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) \
                     AS t(job_id, lease_id, error, next_attempt_at) \
                WHERE j.job_id = t.job_id AND j.state = 'sending' AND j.claimed_by = t.lease_id \
                RETURNING j.job_id, j.priority, j.next_attempt_at, j.incident_id) \
             INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id) \
             SELECT job_id, priority, next_attempt_at, incident_id FROM retried",
            &retry.0,
            &retry.1,
            &retry.2,
            &retry.3,
        )
        .execute(&mut *connection)
        .await?;
    }
    if !failed.0.is_empty() {
        let notices = sqlx::query!(
            r#"WITH failed AS (
                   UPDATE email_jobs j SET state = 'failed', last_error = t.error, updated_at = now(),
                          content = NULL, failure_class = t.class
                   FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[])
                        AS t(job_id, lease_id, error, class)
                   WHERE j.job_id = t.job_id AND j.state = 'sending' AND j.claimed_by = t.lease_id
                   RETURNING j.kind, j.incident_id, j.account_id)
               SELECT incident_id AS "incident_id!", account_id AS "account_id!" FROM failed f
               WHERE kind = 'breach_notice' AND incident_id IS NOT NULL AND account_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM deactivated_accounts d WHERE d.account_id = f.account_id)"#,
            &failed.0,
            &failed.1,
            &failed.2,
            &failed.3 as _,
        )
        .fetch_all(&mut *connection)
        .await?;
        unreached.extend(notices.into_iter().map(|row| Undelivered {
            incident_id: row.incident_id,
            account_id: row.account_id,
            reason: UndeliveredReason::Failed,
        }));
    }
    if !suppress.0.is_empty() {
        sqlx::query!(
            "INSERT INTO suppressed_addresses (address, reason) \
             SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &suppress.0,
            &suppress.1,
        )
        .execute(&mut *connection)
        .await?;
    }
    if !suppressed.0.is_empty() {
        let notices = sqlx::query!(
            r#"WITH suppressed AS (
                   UPDATE email_jobs j SET state = 'suppressed', suppression_reason = 1,
                          updated_at = now(), content = NULL
                   FROM UNNEST($1::uuid[], $2::uuid[]) AS t(job_id, lease_id)
                   WHERE j.job_id = t.job_id AND j.state = 'sending' AND j.claimed_by = t.lease_id
                   RETURNING j.kind, j.incident_id, j.account_id)
               SELECT incident_id AS "incident_id!", account_id AS "account_id!" FROM suppressed s
               WHERE kind = 'breach_notice' AND incident_id IS NOT NULL AND account_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM deactivated_accounts d WHERE d.account_id = s.account_id)"#,
            &suppressed.0,
            &suppressed.1,
        )
        .fetch_all(&mut *connection)
        .await?;
        unreached.extend(notices.into_iter().map(|row| Undelivered {
            incident_id: row.incident_id,
            account_id: row.account_id,
            reason: UndeliveredReason::Suppressed,
        }));
    }
    if !released.0.is_empty() {
        // Not sent: the claim's attempt is given back. Possibly sent (its
        // worker died mid-transaction): counted as possibly re-sent.
        sqlx::query!(
            "WITH released AS ( \
                UPDATE email_jobs j SET state = 'queued', next_attempt_at = now(), updated_at = now(), \
                       claimed_by = NULL, \
                       attempts = CASE WHEN t.possibly_sent THEN j.attempts ELSE j.attempts - 1 END, \
                       possibly_resent = j.possibly_resent OR t.possibly_sent \
                FROM UNNEST($1::uuid[], $2::uuid[], $3::bool[]) AS t(job_id, lease_id, possibly_sent) \
                WHERE j.job_id = t.job_id AND j.state = 'sending' AND j.claimed_by = t.lease_id \
                RETURNING j.job_id, j.priority, j.next_attempt_at, j.incident_id) \
             INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id) \
             SELECT job_id, priority, next_attempt_at, incident_id FROM released",
            &released.0,
            &released.1,
            &released.2,
        )
        .execute(&mut *connection)
        .await?;
    }
    undelivered::announce(connection, &unreached, Utc::now()).await
}

/// Queues again the jobs left SENDING without a live lease (claimed by a
/// release before leases, whose replica refreshed them while it held them)
/// and not refreshed for longer than `stale_seconds`, and marks them
/// possibly re-sent. Jobs of a live lease are the reaper's, however old.
/// Scans the jobs table (nothing the sender changes is indexed); run it
/// rarely.
pub async fn requeue_stale(
    connection: &mut PgConnection,
    stale_seconds: f64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "WITH requeued AS ( \
            UPDATE email_jobs j SET state = 'queued', possibly_resent = true, next_attempt_at = now(), \
                   updated_at = now(), claimed_by = NULL \
            WHERE state = 'sending' AND updated_at < now() - make_interval(secs => $1) \
              AND (claimed_by IS NULL \
                   OR NOT EXISTS (SELECT 1 FROM sender_leases l WHERE l.lease_id = j.claimed_by)) \
            RETURNING job_id, priority, next_attempt_at, incident_id) \
         INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id) \
         SELECT job_id, priority, next_attempt_at, incident_id FROM requeued",
        stale_seconds,
    )
    .execute(connection)
    .await?
    .rows_affected())
}
