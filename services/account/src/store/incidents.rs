//! Incidents and their frozen affected sets. Everything here is set-based:
//! freezing and invalidating a million accounts is a handful of statements.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Accounts per AccountsAffected batch.
pub const BATCH_SIZE: i64 = 500;

/// An incident as recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub event: Vec<u8>,
    pub recorded_at: DateTime<Utc>,
    pub affected_accounts: i64,
    pub batch_count: i32,
    pub passwords_invalidated: i64,
    pub other_accounts_change_required: i64,
    pub sessions_revoked: i64,
    pub batches_enqueued: i32,
    pub completed_at: Option<DateTime<Utc>>,
}

macro_rules! incident_columns {
    () => {
        "event, recorded_at, affected_accounts, batch_count, \
    passwords_invalidated, other_accounts_change_required, sessions_revoked, batches_enqueued, \
    completed_at"
    };
}

/// What the password rule of an incident asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRule {
    pub invalidate_affected: bool,
    pub others_must_change: bool,
}

/// Records the incident unless its id exists; `true` when this call did.
pub async fn insert(
    conn: &mut PgConnection,
    incident_id: &str,
    event: &[u8],
    cutoff: DateTime<Utc>,
    scope: i32,
) -> sqlx::Result<bool> {
    let scope = i16::try_from(scope).unwrap_or_default();
    let inserted = sqlx::query(
        "INSERT INTO incidents (incident_id, event, affected_joined_before, password_reset_scope,
                                affected_accounts, batch_count, passwords_invalidated,
                                other_accounts_change_required, sessions_revoked)
         VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0)
         ON CONFLICT (incident_id) DO NOTHING",
    )
    .bind(incident_id)
    .bind(event)
    .bind(cutoff)
    .bind(scope)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn find(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<Option<IncidentRow>> {
    sqlx::query_as::<_, IncidentRow>(concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE incident_id = $1"
    ))
    .bind(incident_id)
    .fetch_optional(conn)
    .await
}

pub async fn lock(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<Option<IncidentRow>> {
    sqlx::query_as::<_, IncidentRow>(concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE incident_id = $1 FOR UPDATE"
    ))
    .bind(incident_id)
    .fetch_optional(conn)
    .await
}

/// Freezes the affected set (joined strictly before the cutoff, with an
/// email, active), numbers its batches, applies the password rule, revokes
/// the affected accounts' sessions and stores the totals.
pub async fn freeze(
    conn: &mut PgConnection,
    incident_id: &str,
    cutoff: DateTime<Utc>,
    rule: PasswordRule,
) -> sqlx::Result<()> {
    let started = std::time::Instant::now();
    const AFFECTED: &str = "joined_at < $2 AND email IS NOT NULL AND deactivated_at IS NULL";
    const FREEZE: &str = "INSERT INTO incident_accounts (incident_id, account_id, email, display_name, joined_at, batch_sequence)
         SELECT $1, account_id, email, display_name, joined_at,
                ((row_number() OVER (ORDER BY account_id) - 1) / $3 + 1)::integer";
    // One statement and so one snapshot: the accounts whose passwords stop
    // working are exactly the frozen set, even while members register,
    // import or deactivate concurrently. Batches are numbered in account_id
    // order, so batch order is also primary-key order.
    let statement = if rule.invalidate_affected {
        format!(
            "WITH affected AS (
                 UPDATE accounts SET password_state = 3 WHERE {AFFECTED}
                 RETURNING account_id, email, display_name, joined_at
             )
             {FREEZE} FROM affected"
        )
    } else {
        format!("{FREEZE} FROM accounts WHERE {AFFECTED}")
    };
    // Built from the constants above only: no input reaches the text.
    let affected = sqlx::query(sqlx::AssertSqlSafe(statement))
        .bind(incident_id)
        .bind(cutoff)
        .bind(BATCH_SIZE)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let invalidated = if rule.invalidate_affected {
        affected
    } else {
        0
    };
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis(),
        "freeze: affected set stored and passwords invalidated"
    );
    let mut others = 0;
    if rule.others_must_change {
        others = sqlx::query(
            "UPDATE accounts a SET password_state = 2
             WHERE a.deactivated_at IS NULL AND a.password_state = 1
               AND NOT EXISTS (SELECT 1 FROM incident_accounts i
                               WHERE i.incident_id = $1 AND i.account_id = a.account_id)",
        )
        .bind(incident_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    let revoked = sqlx::query(
        "UPDATE sessions s SET revoked_at = now()
         FROM incident_accounts i
         WHERE i.incident_id = $1 AND s.account_id = i.account_id
           AND s.revoked_at IS NULL AND s.expires_at > now()",
    )
    .bind(incident_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis(),
        "freeze: others marked and sessions revoked"
    );
    let affected = i64::try_from(affected).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE incidents SET affected_accounts = $2, batch_count = (($2 + $3 - 1) / $3)::integer,
                passwords_invalidated = $4, other_accounts_change_required = $5, sessions_revoked = $6
         WHERE incident_id = $1",
    )
    .bind(incident_id)
    .bind(affected)
    .bind(BATCH_SIZE)
    .bind(i64::try_from(invalidated).unwrap_or(i64::MAX))
    .bind(i64::try_from(others).unwrap_or(i64::MAX))
    .bind(i64::try_from(revoked).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// One frozen affected account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AffectedRow {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub joined_at: DateTime<Utc>,
    pub batch_sequence: i32,
}

/// The accounts of batches `first..=last`, ordered by batch and account.
pub async fn batches(
    conn: &mut PgConnection,
    incident_id: &str,
    first: i32,
    last: i32,
) -> sqlx::Result<Vec<AffectedRow>> {
    sqlx::query_as::<_, AffectedRow>(
        "SELECT account_id, email, display_name, joined_at, batch_sequence
         FROM incident_accounts
         WHERE incident_id = $1 AND batch_sequence BETWEEN $2 AND $3
         ORDER BY batch_sequence, account_id",
    )
    .bind(incident_id)
    .bind(first)
    .bind(last)
    .fetch_all(conn)
    .await
}

/// Remembers the outbox messages of batches and advances the cursor.
pub async fn record_batches_enqueued(
    conn: &mut PgConnection,
    incident_id: &str,
    sequences: &[i32],
    message_ids: &[Uuid],
    cursor: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO incident_batches (incident_id, batch_sequence, message_id)
         SELECT $1, * FROM UNNEST($2::integer[], $3::uuid[])",
    )
    .bind(incident_id)
    .bind(sequences)
    .bind(message_ids)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE incidents SET batches_enqueued = $2 WHERE incident_id = $1")
        .bind(incident_id)
        .bind(cursor)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn record_completed(
    conn: &mut PgConnection,
    incident_id: &str,
    completed_at: DateTime<Utc>,
    message_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incidents SET completed_at = $2, completed_message_id = $3 WHERE incident_id = $1",
    )
    .bind(incident_id)
    .bind(completed_at)
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// What happened since recording, counted from the live tables.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Published {
    /// Batches the broker confirmed (their outbox row is marked published or
    /// already cleaned up).
    pub batches_published: i64,
    /// EnumerationCompleted confirmed.
    pub completion_published: bool,
}

pub async fn published(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<Published> {
    sqlx::query_as::<_, Published>(
        "SELECT
            (SELECT count(*) FROM incident_batches b
               LEFT JOIN candor_outbox o ON o.message_id = b.message_id
              WHERE b.incident_id = $1 AND (o.id IS NULL OR o.published_at IS NOT NULL))
              AS batches_published,
            COALESCE((SELECT i.completed_message_id IS NOT NULL
                        AND (o.id IS NULL OR o.published_at IS NOT NULL)
                      FROM incidents i LEFT JOIN candor_outbox o ON o.message_id = i.completed_message_id
                      WHERE i.incident_id = $1), false) AS completion_published",
    )
    .bind(incident_id)
    .fetch_one(conn)
    .await
}

/// Affected members who since set a new password, and who deactivated.
pub async fn changes_since(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE a.password_changed_at > i.recorded_at),
                count(*) FILTER (WHERE a.deactivated_at > i.recorded_at)
         FROM incident_accounts ia
         JOIN incidents i ON i.incident_id = ia.incident_id
         JOIN accounts a ON a.account_id = ia.account_id
         WHERE ia.incident_id = $1",
    )
    .bind(incident_id)
    .fetch_one(conn)
    .await
}

/// One page entry of ListAffectedAccounts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedRow {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub joined_at: DateTime<Utc>,
    pub batch_sequence: i32,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
}

/// A keyset page after `(after_batch, after_account)`.
pub async fn list(
    conn: &mut PgConnection,
    incident_id: &str,
    after: (i32, Uuid),
    limit: i64,
) -> sqlx::Result<Vec<ListedRow>> {
    sqlx::query_as::<_, ListedRow>(
        "SELECT ia.account_id, ia.email, ia.display_name, ia.joined_at, ia.batch_sequence,
                CASE WHEN a.password_changed_at > i.recorded_at THEN a.password_changed_at END
                    AS password_changed_at,
                CASE WHEN a.deactivated_at > i.recorded_at THEN a.deactivated_at END
                    AS deactivated_at
         FROM incident_accounts ia
         JOIN incidents i ON i.incident_id = ia.incident_id
         JOIN accounts a ON a.account_id = ia.account_id
         WHERE ia.incident_id = $1 AND (ia.batch_sequence, ia.account_id) > ($2, $3)
         ORDER BY ia.batch_sequence, ia.account_id
         LIMIT $4",
    )
    .bind(incident_id)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Counts for CountAffectedAccounts (a dry run: nothing is recorded).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DryRunCounts {
    pub affected: i64,
    pub without_email: i64,
    pub deactivated: i64,
    pub active_total: i64,
}

pub async fn count_affected(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
) -> sqlx::Result<DryRunCounts> {
    sqlx::query_as::<_, DryRunCounts>(
        "SELECT
            count(*) FILTER (WHERE joined_at < $1 AND email IS NOT NULL AND deactivated_at IS NULL) AS affected,
            count(*) FILTER (WHERE joined_at < $1 AND email IS NULL AND deactivated_at IS NULL) AS without_email,
            count(*) FILTER (WHERE joined_at < $1 AND deactivated_at IS NOT NULL) AS deactivated,
            count(*) FILTER (WHERE deactivated_at IS NULL AND password_state = 1
                             AND NOT (joined_at < $1 AND email IS NOT NULL)) AS active_total
         FROM accounts",
    )
    .bind(cutoff)
    .fetch_one(conn)
    .await
}

/// An incident's content as first accepted, for GetIncident.
#[derive(Debug, Clone)]
pub struct RecordedIncident {
    /// The encoded `BreachReported`.
    pub event: Vec<u8>,
    pub recorded_at: DateTime<Utc>,
}

pub async fn recorded(
    conn: &mut PgConnection,
    incident_id: &str,
) -> sqlx::Result<Option<RecordedIncident>> {
    sqlx::query_as!(
        RecordedIncident,
        "SELECT event, recorded_at FROM incidents WHERE incident_id = $1",
        incident_id
    )
    .fetch_optional(conn)
    .await
}
