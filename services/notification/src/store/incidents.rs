//! Incidents and the facts other events add to them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What recording a `breach.reported` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded,
    /// The same report was recorded before: nothing changed.
    AlreadyRecorded,
    /// A different report under the same incident id.
    Conflict,
}

/// Records an incident's report (protobuf bytes), idempotently.
pub async fn record(
    connection: &mut PgConnection,
    incident_id: &str,
    report: &[u8],
) -> Result<RecordOutcome, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO incidents (incident_id, report) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        incident_id,
        report,
    )
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(RecordOutcome::Recorded);
    }
    let existing = load_report(connection, incident_id).await?;
    Ok(match existing {
        Some(existing) if existing == report => RecordOutcome::AlreadyRecorded,
        _ => RecordOutcome::Conflict,
    })
}

/// The recorded report of an incident, if any.
pub async fn load_report(
    connection: &mut PgConnection,
    incident_id: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT report FROM incidents WHERE incident_id = $1",
        incident_id
    )
    .fetch_optional(connection)
    .await
}

/// Records the forum thread and releases the incident's notices that were
/// waiting for it (first attempts only; retries keep their backoff).
pub async fn record_thread(
    connection: &mut PgConnection,
    incident_id: &str,
    thread_id: Uuid,
    thread_url: &str,
    opened_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO incident_threads (incident_id, thread_id, thread_url, opened_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        incident_id,
        thread_id,
        thread_url,
        opened_at,
    )
    .execute(&mut *connection)
    .await?;
    // The queue decides when a job is claimed; the job's own
    // `next_attempt_at` is what GetDelivery shows.
    let released = sqlx::query!(
        "UPDATE email_queue SET next_attempt_at = now(), awaiting_thread = false \
         WHERE incident_id = $1 AND awaiting_thread AND next_attempt_at > now()",
        incident_id,
    )
    .execute(&mut *connection)
    .await?
    .rows_affected();
    sqlx::query!(
        "UPDATE email_jobs SET next_attempt_at = now() \
         WHERE incident_id = $1 AND state = 'queued' AND attempts = 0 AND next_attempt_at > now()",
        incident_id,
    )
    .execute(connection)
    .await?;
    Ok(released)
}

/// Records the expected totals of an incident.
pub async fn record_enumeration(
    connection: &mut PgConnection,
    incident_id: &str,
    affected_accounts: u64,
    batch_count: u32,
    completed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // `$3::bigint`: a u32 count need not fit the integer column; one that
    // does not fails in PostgreSQL's cast, as an error of this statement.
    sqlx::query!(
        "INSERT INTO incident_enumerations (incident_id, affected_accounts, batch_count, completed_at) \
         VALUES ($1, $2, $3::bigint, $4) ON CONFLICT DO NOTHING",
        incident_id,
        i64::try_from(affected_accounts).unwrap_or(i64::MAX),
        i64::from(batch_count),
        completed_at,
    )
    .execute(connection)
    .await?;
    Ok(())
}

/// Records a deactivation: queued jobs of the account become suppressed and
/// its address is erased from every job. Returns the jobs suppressed.
pub async fn record_deactivation(
    connection: &mut PgConnection,
    account_id: Uuid,
    deactivated_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "INSERT INTO deactivated_accounts (account_id, deactivated_at) VALUES ($1, $2) \
         ON CONFLICT DO NOTHING",
        account_id,
        deactivated_at,
    )
    .execute(&mut *connection)
    .await?;
    let suppressed = sqlx::query!(
        "UPDATE email_jobs SET state = 'suppressed', suppression_reason = 2, content = NULL, \
                to_address = '', display_name = '', next_attempt_at = now(), updated_at = now() \
         WHERE account_id = $1 AND state = 'queued'",
        account_id,
    )
    .execute(&mut *connection)
    .await?
    .rows_affected();
    sqlx::query!(
        "UPDATE email_jobs SET to_address = '', display_name = '' \
         WHERE account_id = $1 AND state <> 'sending' AND to_address <> ''",
        account_id,
    )
    .execute(connection)
    .await?;
    Ok(suppressed)
}
