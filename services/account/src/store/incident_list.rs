//! The recorded incidents as lists: newest first for ListIncidents, and
//! those the metrics show. Few rows (one per breach), so neither needs an
//! index of its own.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// One incident as listed.
#[derive(Debug, Clone)]
pub struct ListedIncident {
    pub incident_id: String,
    /// The BreachReported as first accepted (binary protobuf).
    pub event: Vec<u8>,
    pub recorded_at: DateTime<Utc>,
    pub affected_accounts: i64,
    pub batch_count: i32,
    pub batches_enqueued: i32,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Up to `limit` incidents recorded before `after` in the order
/// (recorded_at, incident_id) descending; from the newest when `after` is
/// `None`.
pub async fn page(
    conn: &mut PgConnection,
    after: Option<(DateTime<Utc>, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<ListedIncident>> {
    let (after_recorded_at, after_incident_id) = match after {
        Some((recorded_at, incident_id)) => (Some(recorded_at), incident_id),
        None => (None, ""),
    };
    sqlx::query_as!(
        ListedIncident,
        "SELECT incident_id, event, recorded_at, affected_accounts, batch_count,
                batches_enqueued, completed_at
         FROM incidents
         WHERE $1::timestamptz IS NULL OR (recorded_at, incident_id) < ($1, $2)
         ORDER BY recorded_at DESC, incident_id DESC
         LIMIT $3",
        after_recorded_at,
        after_incident_id,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// An incident the metrics show.
#[derive(Debug, Clone)]
pub struct ShownIncident {
    pub incident_id: String,
    pub recorded_at: DateTime<Utc>,
    pub affected_accounts: i64,
    pub batch_count: i32,
    /// When EnumerationCompleted was enqueued.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The incidents whose EnumerationCompleted is not enqueued yet, or was
/// enqueued at or after `completed_since`, oldest first.
pub async fn to_show(
    conn: &mut PgConnection,
    completed_since: DateTime<Utc>,
) -> sqlx::Result<Vec<ShownIncident>> {
    sqlx::query_as!(
        ShownIncident,
        "SELECT incident_id, recorded_at, affected_accounts, batch_count, completed_at
         FROM incidents
         WHERE completed_at IS NULL OR completed_at >= $1
         ORDER BY recorded_at, incident_id",
        completed_since,
    )
    .fetch_all(conn)
    .await
}
