//! Creating email jobs: breach notices by the batch, transactional emails
//! one by one under an idempotency key.

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use super::JobKind;
use super::undelivered::{self, Undelivered};

/// One affected account of a batch.
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub account_id: Uuid,
    /// Empty for a member without an email address: their notice is
    /// created SUPPRESSED (reason 3, no email address).
    pub email: String,
    pub display_name: String,
    /// The notice's own content (`email_jobs.content`): what was held about
    /// the member, for the sender to word their notice; `None` when the
    /// batch did not say.
    pub content: Option<serde_json::Value>,
}

/// Creates the notices of a batch in one statement; an account that already
/// has a notice for the incident gets nothing new. A deactivated account's
/// notice is created suppressed (address erased), so is one to a suppressed
/// address and one to a member without an email address (`email` empty,
/// SUPPRESSION_REASON_NO_EMAIL_ADDRESS). A notice waits for the incident's
/// forum thread link at most `thread_wait_seconds` after the incident was
/// recorded. The notices created suppressed for the address or for having
/// none are announced as undelivered through the outbox, in one more
/// statement (none when there are none). Returns the jobs created.
pub async fn insert_notices(
    connection: &mut PgConnection,
    incident_id: &str,
    notices: &[NewNotice],
    message_id_domain: &str,
    thread_wait_seconds: f64,
) -> Result<u64, sqlx::Error> {
    let job_ids: Vec<Uuid> = notices.iter().map(|_| Uuid::now_v7()).collect();
    let account_ids: Vec<Uuid> = notices.iter().map(|notice| notice.account_id).collect();
    let emails: Vec<&str> = notices.iter().map(|notice| notice.email.as_str()).collect();
    let names: Vec<&str> = notices
        .iter()
        .map(|notice| notice.display_name.as_str())
        .collect();
    let contents: Vec<Option<&serde_json::Value>> = notices
        .iter()
        .map(|notice| notice.content.as_ref())
        .collect();
    let created = sqlx::query!(
        "WITH created AS ( \
         INSERT INTO email_jobs (job_id, kind, priority, incident_id, account_id, to_address, \
                                 display_name, content, state, suppression_reason, message_id, next_attempt_at) \
         SELECT t.job_id, 'breach_notice', 1, $1, t.account_id, \
                CASE WHEN d.account_id IS NULL THEN t.email ELSE '' END, \
                CASE WHEN d.account_id IS NULL THEN t.display_name ELSE '' END, \
                CASE WHEN d.account_id IS NULL AND s.address IS NULL AND t.email <> '' THEN t.content END, \
                CASE WHEN d.account_id IS NOT NULL OR s.address IS NOT NULL OR t.email = '' \
                     THEN 'suppressed' ELSE 'queued' END, \
                CASE WHEN d.account_id IS NOT NULL THEN 2 WHEN t.email = '' THEN 3 \
                     WHEN s.address IS NOT NULL THEN 1 END, \
                '<' || t.job_id::text || '@' || $6 || '>', \
                CASE WHEN th.thread_url IS NOT NULL THEN now() \
                     ELSE greatest(now(), i.recorded_at + make_interval(secs => $7)) END \
         FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $8::jsonb[]) \
              AS t(job_id, account_id, email, display_name, content) \
         JOIN incidents i ON i.incident_id = $1 \
         LEFT JOIN incident_threads th ON th.incident_id = $1 \
         LEFT JOIN deactivated_accounts d ON d.account_id = t.account_id \
         LEFT JOIN suppressed_addresses s ON s.address = lower(t.email) \
         ON CONFLICT (incident_id, account_id) DO NOTHING \
         RETURNING job_id, priority, incident_id, account_id, state, suppression_reason, next_attempt_at), \
         queued AS ( \
         INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id, awaiting_thread) \
         SELECT c.job_id, c.priority, c.next_attempt_at, c.incident_id, \
                NOT EXISTS (SELECT 1 FROM incident_threads th WHERE th.incident_id = $1) \
         FROM created c WHERE c.state = 'queued') \
         SELECT count(*) AS \"created!\", \
                array_agg(account_id) FILTER (WHERE suppression_reason IN (1, 3)) AS undelivered_accounts, \
                array_agg(suppression_reason) FILTER (WHERE suppression_reason IN (1, 3)) AS undelivered_reasons \
         FROM created",
        incident_id,
        &job_ids,
        &account_ids,
        // `as _`: the check wants `&[String]` for a text[]; borrowed
        // strings encode the same.
        &emails as _,
        &names as _,
        message_id_domain,
        thread_wait_seconds,
        // `as _`: a notice without content binds NULL in the jsonb[].
        &contents as _,
    )
    .fetch_one(&mut *connection)
    .await?;
    let unreached: Vec<Undelivered> = created
        .undelivered_accounts
        .unwrap_or_default()
        .into_iter()
        .zip(created.undelivered_reasons.unwrap_or_default())
        .filter_map(|(account_id, reason)| {
            Some(Undelivered {
                incident_id: incident_id.to_owned(),
                account_id,
                reason: undelivered::suppression_reason(reason)?,
            })
        })
        .collect();
    undelivered::announce(connection, &unreached, Utc::now()).await?;
    Ok(u64::try_from(created.created).unwrap_or(0))
}

/// A transactional email to queue.
#[derive(Debug, Clone)]
pub struct NewTransactional<'a> {
    pub idempotency_key: &'a str,
    pub request_digest: &'a [u8],
    pub kind: JobKind,
    pub account_id: Option<Uuid>,
    pub to_address: &'a str,
    pub display_name: &'a str,
    pub content: serde_json::Value,
}

/// What queuing a transactional email did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionalOutcome {
    /// Created (or found, for the same request) this job.
    Job(Uuid),
    /// The key was used for a different request.
    KeyReused,
}

/// Queues a transactional email (priority 0: sent before any breach notice
/// that is due), idempotently by key. A suppressed address gives a job in
/// state suppressed.
pub async fn insert_transactional(
    connection: &mut PgConnection,
    email: NewTransactional<'_>,
    message_id_domain: &str,
) -> Result<TransactionalOutcome, sqlx::Error> {
    let job_id = Uuid::now_v7();
    // `$1::uuid` and `$8::jsonb` name the types the binds are sent as:
    // without them PostgreSQL, preparing the statement for the check, would
    // deduce text for both (from `$1::text` and the CASE).
    sqlx::query!(
        "WITH created AS ( \
         INSERT INTO email_jobs (job_id, kind, priority, account_id, to_address, display_name, \
                                 idempotency_key, request_digest, content, state, suppression_reason, message_id) \
         SELECT $1::uuid, $2, 0, $3, $4, $5, $6, $7, \
                CASE WHEN s.address IS NULL THEN $8::jsonb END, \
                CASE WHEN s.address IS NULL THEN 'queued' ELSE 'suppressed' END, \
                CASE WHEN s.address IS NULL THEN NULL ELSE 1 END, \
                '<' || $1::text || '@' || $9 || '>' \
         FROM (SELECT 1) AS one \
         LEFT JOIN suppressed_addresses s ON s.address = lower($4) \
         ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING job_id, priority, state, next_attempt_at) \
         INSERT INTO email_queue (job_id, priority, next_attempt_at) \
         SELECT job_id, priority, next_attempt_at FROM created WHERE state = 'queued'",
        job_id,
        email.kind.as_str(),
        email.account_id,
        email.to_address,
        email.display_name,
        email.idempotency_key,
        email.request_digest,
        &email.content,
        message_id_domain,
    )
    .execute(&mut *connection)
    .await?;
    let existing = sqlx::query!(
        "SELECT job_id, request_digest FROM email_jobs WHERE idempotency_key = $1",
        email.idempotency_key
    )
    .fetch_one(connection)
    .await?;
    if existing.request_digest.as_deref() == Some(email.request_digest) {
        Ok(TransactionalOutcome::Job(existing.job_id))
    } else {
        Ok(TransactionalOutcome::KeyReused)
    }
}
