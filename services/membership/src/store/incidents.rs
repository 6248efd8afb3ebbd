//! The `incidents` table: what `breach.reported` and
//! `breach.enumeration_completed` told us, and the progress read model.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The compensation of an incident, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompensationTerms {
    /// `candor.events.v1.CompensationKind` number.
    pub kind: i16,
    pub value_minor_units: i64,
    pub currency: String,
    pub duration_days: i32,
    pub description: String,
}

/// What recording a `breach.reported` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time: the incident and its compensation are now known.
    New,
    /// The same content again: nothing changed.
    Unchanged,
    /// The same incident id with other content: refused.
    Conflict,
}

/// Whether `breach.reported` of `incident_id` is recorded (its parked
/// batches can be applied).
pub async fn is_reported(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM incidents WHERE incident_id = $1 AND reported_at IS NOT NULL)
               AS "exists!""#,
        incident_id,
    )
    .fetch_one(conn)
    .await
}

/// Records the incident's report (idempotent by `incident_id` and the
/// content's fingerprint).
pub async fn record_reported(
    conn: &mut PgConnection,
    incident_id: &str,
    fingerprint: &[u8],
    terms: &CompensationTerms,
) -> sqlx::Result<Recorded> {
    let inserted = sqlx::query_scalar!(
        "INSERT INTO incidents (incident_id, reported_fingerprint, reported_at, \
             compensation_kind, compensation_value, compensation_currency, \
             compensation_duration_days, compensation_description) \
         VALUES ($1, $2, now(), $3, $4, $5, $6, $7) \
         ON CONFLICT (incident_id) DO UPDATE SET \
             reported_fingerprint = EXCLUDED.reported_fingerprint, \
             reported_at = EXCLUDED.reported_at, \
             compensation_kind = EXCLUDED.compensation_kind, \
             compensation_value = EXCLUDED.compensation_value, \
             compensation_currency = EXCLUDED.compensation_currency, \
             compensation_duration_days = EXCLUDED.compensation_duration_days, \
             compensation_description = EXCLUDED.compensation_description \
         WHERE incidents.reported_at IS NULL \
         RETURNING incident_id",
        incident_id,
        fingerprint,
        terms.kind,
        terms.value_minor_units,
        terms.currency,
        terms.duration_days,
        terms.description,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Recorded::New);
    }
    let existing = sqlx::query_scalar!(
        "SELECT reported_fingerprint FROM incidents WHERE incident_id = $1",
        incident_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(if existing.as_deref() == Some(fingerprint) {
        Recorded::Unchanged
    } else {
        Recorded::Conflict
    })
}

/// Records `EnumerationCompleted`'s totals; the first one wins. Returns
/// whether it was new.
pub async fn record_enumeration(
    conn: &mut PgConnection,
    incident_id: &str,
    expected_total: i64,
    batch_count: i32,
    completed_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query_scalar!(
        "INSERT INTO incidents (incident_id, expected_total, batch_count, enumeration_completed_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (incident_id) DO UPDATE SET \
             expected_total = EXCLUDED.expected_total, \
             batch_count = EXCLUDED.batch_count, \
             enumeration_completed_at = EXCLUDED.enumeration_completed_at \
         WHERE incidents.enumeration_completed_at IS NULL \
         RETURNING incident_id",
        incident_id,
        expected_total,
        batch_count,
        completed_at,
    )
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// An incident's progress, summed over its applied batches.
#[derive(Debug, Clone)]
pub struct ProgressRow {
    pub incident_id: String,
    pub reported_at: Option<DateTime<Utc>>,
    pub compensation_kind: Option<i16>,
    pub compensation_value: Option<i64>,
    pub compensation_currency: Option<String>,
    pub compensation_duration_days: Option<i32>,
    pub compensation_description: Option<String>,
    pub expected_total: Option<i64>,
    pub batch_count: Option<i32>,
    pub enumeration_completed_at: Option<DateTime<Utc>>,
    pub credited: i64,
    pub already_lifetime: i64,
    pub skipped: i64,
    pub batches_processed: i64,
    pub first_credited_at: Option<DateTime<Utc>>,
    pub last_processed_at: Option<DateTime<Utc>>,
}

impl ProgressRow {
    /// Whether every expected account is handled: EnumerationCompleted
    /// arrived and credited + already lifetime + skipped = its total.
    pub fn complete(&self) -> bool {
        self.enumeration_completed_at.is_some()
            && self.credited + self.already_lifetime + self.skipped
                == self.expected_total.unwrap_or(0)
    }
}

/// The progress of `incident_id`; `None` when never heard of.
pub async fn progress(
    conn: &mut PgConnection,
    incident_id: &str,
) -> sqlx::Result<Option<ProgressRow>> {
    // The sums and the count are never NULL (COALESCE, count), which the
    // macro cannot tell from an expression.
    sqlx::query_as!(
        ProgressRow,
        r#"SELECT i.incident_id, i.reported_at, i.compensation_kind, i.compensation_value,
             i.compensation_currency, i.compensation_duration_days, i.compensation_description,
             i.expected_total, i.batch_count, i.enumeration_completed_at,
             COALESCE(sum(b.credited), 0)::bigint AS "credited!",
             COALESCE(sum(b.already_lifetime), 0)::bigint AS "already_lifetime!",
             COALESCE(sum(b.skipped), 0)::bigint AS "skipped!",
             count(b.batch_sequence) AS "batches_processed!",
             min(b.processed_at) FILTER (WHERE b.credited > 0) AS first_credited_at,
             max(b.processed_at) AS last_processed_at
         FROM incidents i
         LEFT JOIN incident_batches b ON b.incident_id = i.incident_id
         WHERE i.incident_id = $1
         GROUP BY i.incident_id"#,
        incident_id,
    )
    .fetch_optional(conn)
    .await
}

/// The reported incidents the metrics may show, oldest first: every one not
/// complete, and those active (EnumerationCompleted's time or a batch
/// processed) at or after `active_since`. Whether one is complete is for
/// [`ProgressRow::complete`] to say; this only leaves out the incidents
/// with every batch processed and nothing since `active_since`.
pub async fn to_show(
    conn: &mut PgConnection,
    active_since: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT i.incident_id
         FROM incidents i
         LEFT JOIN LATERAL (
             SELECT count(*) AS batches, max(b.processed_at) AS last_processed_at
             FROM incident_batches b WHERE b.incident_id = i.incident_id
         ) b ON true
         WHERE i.reported_at IS NOT NULL
           AND (i.enumeration_completed_at IS NULL
                OR i.enumeration_completed_at >= $1
                OR b.last_processed_at >= $1
                OR b.batches < i.batch_count)
         ORDER BY i.reported_at, i.incident_id"#,
        active_since,
    )
    .fetch_all(conn)
    .await
}
