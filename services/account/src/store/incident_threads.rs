//! `incident_threads`: each incident's forum thread, from
//! `forum.incident_thread_opened`, for the security notices' link. Kept
//! without a reference to `incidents`: the forum may open the thread before
//! this service has recorded the incident.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Remembers the thread of `incident_id`; a later thread replaces it.
/// Returns whether anything changed.
pub async fn record(
    conn: &mut PgConnection,
    incident_id: &str,
    thread_id: Uuid,
    url: &str,
    opened_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let recorded = sqlx::query!(
        "INSERT INTO incident_threads (incident_id, thread_id, url, opened_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (incident_id) DO UPDATE
             SET thread_id = EXCLUDED.thread_id, url = EXCLUDED.url, opened_at = EXCLUDED.opened_at
         WHERE (incident_threads.thread_id, incident_threads.url)
               IS DISTINCT FROM (EXCLUDED.thread_id, EXCLUDED.url)",
        incident_id,
        thread_id,
        url,
        opened_at,
    )
    .execute(conn)
    .await?;
    Ok(recorded.rows_affected() == 1)
}
