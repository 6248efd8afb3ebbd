//! Incidents and their frozen affected sets. Everything here is set-based:
//! freezing and invalidating a million accounts is a handful of statements.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::notices;

/// Accounts per AccountsAffected batch.
pub const BATCH_SIZE: i64 = 500;

/// An incident as recorded.
#[derive(Debug, Clone)]
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
    /// Of `affected_accounts`, the members frozen without an email address.
    pub affected_without_email: i64,
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
    let inserted = sqlx::query!(
        "INSERT INTO incidents (incident_id, event, affected_joined_before, password_reset_scope,
                                affected_accounts, batch_count, passwords_invalidated,
                                other_accounts_change_required, sessions_revoked)
         VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0)
         ON CONFLICT (incident_id) DO NOTHING",
        incident_id,
        event,
        cutoff,
        scope,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn find(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<Option<IncidentRow>> {
    sqlx::query_as!(
        IncidentRow,
        "SELECT event, recorded_at, affected_accounts, batch_count, passwords_invalidated,
                other_accounts_change_required, sessions_revoked, batches_enqueued, completed_at,
                affected_without_email
         FROM incidents WHERE incident_id = $1",
        incident_id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn lock(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<Option<IncidentRow>> {
    sqlx::query_as!(
        IncidentRow,
        "SELECT event, recorded_at, affected_accounts, batch_count, passwords_invalidated,
                other_accounts_change_required, sessions_revoked, batches_enqueued, completed_at,
                affected_without_email
         FROM incidents WHERE incident_id = $1 FOR UPDATE",
        incident_id,
    )
    .fetch_optional(conn)
    .await
}

/// Freezes the affected set (joined strictly before the cutoff, active;
/// with or without an email address, frozen as `''` when none), numbers its
/// batches, applies the password rule, revokes the affected accounts'
/// sessions, raises the in-app notice of each member without an email
/// address and stores the totals.
pub async fn freeze(
    conn: &mut PgConnection,
    incident_id: &str,
    cutoff: DateTime<Utc>,
    rule: PasswordRule,
) -> sqlx::Result<()> {
    let started = std::time::Instant::now();
    // One statement and so one snapshot: the accounts whose passwords stop
    // working are exactly the frozen set, even while members register,
    // import or deactivate concurrently. Batches are numbered in account_id
    // order, so batch order is also primary-key order. The two statements
    // select the same set (joined before $2, active); one
    // statement for both rules would need a UNION of the two sources behind
    // a flag, and so another plan.
    let freeze = if rule.invalidate_affected {
        sqlx::query!(
            "WITH affected AS (
                 UPDATE accounts SET password_state = 3
                 WHERE joined_at < $2 AND deactivated_at IS NULL
                 RETURNING account_id, COALESCE(email, '') AS email, display_name, joined_at,
                           password_hash IS NOT NULL AS had_password_hash
             )
             INSERT INTO incident_accounts (incident_id, account_id, email, display_name, joined_at, batch_sequence, had_password_hash)
             SELECT $1, account_id, email, display_name, joined_at,
                    ((row_number() OVER (ORDER BY account_id) - 1) / $3 + 1)::integer,
                    had_password_hash
             FROM affected",
            incident_id,
            cutoff,
            BATCH_SIZE,
        )
    } else {
        sqlx::query!(
            "INSERT INTO incident_accounts (incident_id, account_id, email, display_name, joined_at, batch_sequence, had_password_hash)
             SELECT $1, account_id, COALESCE(email, ''), display_name, joined_at,
                    ((row_number() OVER (ORDER BY account_id) - 1) / $3 + 1)::integer,
                    password_hash IS NOT NULL
             FROM accounts
             WHERE joined_at < $2 AND deactivated_at IS NULL",
            incident_id,
            cutoff,
            BATCH_SIZE,
        )
    };
    let affected = freeze.execute(&mut *conn).await?.rows_affected();
    let invalidated = if rule.invalidate_affected {
        affected
    } else {
        0
    };
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis(),
        "freeze: affected set stored and passwords invalidated"
    );
    // Nobody can have erased a row of this incident yet (it is not
    // committed): the frozen rows without an email are exactly the members
    // who have none.
    let without_email = notices::raise_for_members_without_email(&mut *conn, incident_id).await?;
    let mut others = 0;
    if rule.others_must_change {
        others = sqlx::query!(
            "UPDATE accounts a SET password_state = 2
             WHERE a.deactivated_at IS NULL AND a.password_state = 1
               AND NOT EXISTS (SELECT 1 FROM incident_accounts i
                               WHERE i.incident_id = $1 AND i.account_id = a.account_id)",
            incident_id,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    let revoked = sqlx::query!(
        "UPDATE sessions s SET revoked_at = now()
         FROM incident_accounts i
         WHERE i.incident_id = $1 AND s.account_id = i.account_id
           AND s.revoked_at IS NULL AND s.expires_at > now()",
        incident_id,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();

    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis(),
        "freeze: others marked and sessions revoked"
    );
    let affected = i64::try_from(affected).unwrap_or(i64::MAX);
    sqlx::query!(
        // $2 and $3 have no type of their own in `$2 + $3`: bigint, as bound.
        "UPDATE incidents SET affected_accounts = $2,
                batch_count = (($2::bigint + $3::bigint - 1) / $3)::integer,
                passwords_invalidated = $4, other_accounts_change_required = $5, sessions_revoked = $6,
                affected_without_email = $7
         WHERE incident_id = $1",
        incident_id,
        affected,
        BATCH_SIZE,
        i64::try_from(invalidated).unwrap_or(i64::MAX),
        i64::try_from(others).unwrap_or(i64::MAX),
        i64::try_from(revoked).unwrap_or(i64::MAX),
        i64::try_from(without_email).unwrap_or(i64::MAX),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One frozen affected account.
#[derive(Debug, Clone)]
pub struct AffectedRow {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub joined_at: DateTime<Utc>,
    pub batch_sequence: i32,
    /// Whether the member had a password when frozen; `None` when frozen
    /// before that was recorded.
    pub had_password_hash: Option<bool>,
}

/// The accounts of batches `first..=last`, ordered by batch and account.
pub async fn batches(
    conn: &mut PgConnection,
    incident_id: &str,
    first: i32,
    last: i32,
) -> sqlx::Result<Vec<AffectedRow>> {
    sqlx::query_as!(
        AffectedRow,
        "SELECT account_id, email, display_name, joined_at, batch_sequence, had_password_hash
         FROM incident_accounts
         WHERE incident_id = $1 AND batch_sequence BETWEEN $2 AND $3
         ORDER BY batch_sequence, account_id",
        incident_id,
        first,
        last,
    )
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
    sqlx::query!(
        "INSERT INTO incident_batches (incident_id, batch_sequence, message_id)
         SELECT $1, * FROM UNNEST($2::integer[], $3::uuid[])",
        incident_id,
        sequences,
        message_ids,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE incidents SET batches_enqueued = $2 WHERE incident_id = $1",
        incident_id,
        cursor,
    )
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
    sqlx::query!(
        "UPDATE incidents SET completed_at = $2, completed_message_id = $3 WHERE incident_id = $1",
        incident_id,
        completed_at,
        message_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What happened since recording, counted from the live tables.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// Batches the broker confirmed (their outbox row is marked published or
    /// already cleaned up).
    pub batches_published: i64,
    /// EnumerationCompleted confirmed.
    pub completion_published: bool,
}

impl Published {
    /// Whether the incident's publishing is complete: EnumerationCompleted
    /// and all `batch_count` batches confirmed.
    pub fn complete(&self, batch_count: i32) -> bool {
        self.completion_published && self.batches_published >= i64::from(batch_count)
    }
}

pub async fn published(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<Published> {
    // A count and a COALESCE with a constant: neither is ever NULL.
    sqlx::query_as!(
        Published,
        r#"SELECT
            (SELECT count(*) FROM incident_batches b
               LEFT JOIN candor_outbox o ON o.message_id = b.message_id
              WHERE b.incident_id = $1 AND (o.id IS NULL OR o.published_at IS NOT NULL))
              AS "batches_published!",
            COALESCE((SELECT i.completed_message_id IS NOT NULL
                        AND (o.id IS NULL OR o.published_at IS NOT NULL)
                      FROM incidents i LEFT JOIN candor_outbox o ON o.message_id = i.completed_message_id
                      WHERE i.incident_id = $1), false) AS "completion_published!""#,
        incident_id,
    )
    .fetch_one(conn)
    .await
}

/// Affected members who since set a new password, and who deactivated.
pub async fn changes_since(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<(i64, i64)> {
    let counts = sqlx::query!(
        // Counts are never NULL.
        r#"SELECT count(*) FILTER (WHERE a.password_changed_at > i.recorded_at) AS "password_changed!",
                count(*) FILTER (WHERE a.deactivated_at > i.recorded_at) AS "deactivated!"
         FROM incident_accounts ia
         JOIN incidents i ON i.incident_id = ia.incident_id
         JOIN accounts a ON a.account_id = ia.account_id
         WHERE ia.incident_id = $1"#,
        incident_id,
    )
    .fetch_one(conn)
    .await?;
    Ok((counts.password_changed, counts.deactivated))
}

/// One page entry of ListAffectedAccounts.
#[derive(Debug, Clone)]
pub struct ListedRow {
    pub account_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub joined_at: DateTime<Utc>,
    pub batch_sequence: i32,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// As [`AffectedRow::had_password_hash`].
    pub had_password_hash: Option<bool>,
    /// The member's in-app notice (`candor.events.v1.UndeliveredReason`),
    /// when one was raised.
    pub notice_reason: Option<i16>,
    pub notice_raised_at: Option<DateTime<Utc>>,
    pub notice_acknowledged_at: Option<DateTime<Utc>>,
}

/// A keyset page after `(after_batch, after_account)`.
pub async fn list(
    conn: &mut PgConnection,
    incident_id: &str,
    after: (i32, Uuid),
    limit: i64,
) -> sqlx::Result<Vec<ListedRow>> {
    sqlx::query_as!(
        ListedRow,
        r#"SELECT ia.account_id, ia.email, ia.display_name, ia.joined_at, ia.batch_sequence,
                CASE WHEN a.password_changed_at > i.recorded_at THEN a.password_changed_at END
                    AS password_changed_at,
                CASE WHEN a.deactivated_at > i.recorded_at THEN a.deactivated_at END
                    AS deactivated_at,
                ia.had_password_hash,
                n.reason AS "notice_reason?", n.raised_at AS "notice_raised_at?",
                n.acknowledged_at AS notice_acknowledged_at
         FROM incident_accounts ia
         JOIN incidents i ON i.incident_id = ia.incident_id
         JOIN accounts a ON a.account_id = ia.account_id
         LEFT JOIN incident_notices n
                ON n.incident_id = ia.incident_id AND n.account_id = ia.account_id
         WHERE ia.incident_id = $1 AND (ia.batch_sequence, ia.account_id) > ($2, $3)
         ORDER BY ia.batch_sequence, ia.account_id
         LIMIT $4"#,
        incident_id,
        after.0,
        after.1,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Counts for CountAffectedAccounts (a dry run: nothing is recorded).
#[derive(Debug, Clone)]
pub struct DryRunCounts {
    /// Active and joined before the cutoff, with an email address or not.
    pub affected: i64,
    /// Of `affected`, those without an email address.
    pub without_email: i64,
    pub deactivated: i64,
    pub active_total: i64,
}

pub async fn count_affected(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
) -> sqlx::Result<DryRunCounts> {
    sqlx::query_as!(
        DryRunCounts,
        // Counts are never NULL.
        r#"SELECT
            count(*) FILTER (WHERE joined_at < $1 AND deactivated_at IS NULL) AS "affected!",
            count(*) FILTER (WHERE joined_at < $1 AND email IS NULL AND deactivated_at IS NULL) AS "without_email!",
            count(*) FILTER (WHERE joined_at < $1 AND deactivated_at IS NOT NULL) AS "deactivated!",
            count(*) FILTER (WHERE deactivated_at IS NULL AND password_state = 1
                             AND NOT joined_at < $1) AS "active_total!"
         FROM accounts"#,
        cutoff,
    )
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
