//! An incident's notices counted by state, for GetIncidentProgress.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The counts and facts of one incident.
#[derive(Debug, Clone, Default)]
pub struct ProgressRow {
    pub incident_known: bool,
    pub expected_total: Option<i64>,
    pub thread_url: Option<String>,
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub suppressed: i64,
    pub retrying: i64,
    pub failed_retryable: i64,
    pub sent_without_thread_link: i64,
    pub possibly_resent: i64,
    pub sent_last_minute: i64,
    pub first_sent_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub async fn incident(
    connection: &mut PgConnection,
    incident_id: &str,
) -> Result<ProgressRow, sqlx::Error> {
    sqlx::query_as!(
        ProgressRow,
        "SELECT EXISTS (SELECT 1 FROM incidents WHERE incident_id = $1) AS \"incident_known!\", \
                (SELECT affected_accounts FROM incident_enumerations WHERE incident_id = $1) AS expected_total, \
                (SELECT thread_url FROM incident_threads WHERE incident_id = $1) AS thread_url, \
                count(*) FILTER (WHERE state = 'queued') AS \"queued!\", \
                count(*) FILTER (WHERE state = 'sending') AS \"sending!\", \
                count(*) FILTER (WHERE state = 'sent') AS \"sent!\", \
                count(*) FILTER (WHERE state = 'failed') AS \"failed!\", \
                count(*) FILTER (WHERE state = 'suppressed') AS \"suppressed!\", \
                count(*) FILTER (WHERE state = 'queued' AND attempts > 0) AS \"retrying!\", \
                count(*) FILTER (WHERE state = 'failed' AND failure_class = 'retries_exhausted' AND to_address <> '') AS \"failed_retryable!\", \
                count(*) FILTER (WHERE state = 'sent' AND sent_without_thread_link) AS \"sent_without_thread_link!\", \
                count(*) FILTER (WHERE possibly_resent) AS \"possibly_resent!\", \
                count(*) FILTER (WHERE state = 'sent' AND sent_at > now() - interval '60 seconds') AS \"sent_last_minute!\", \
                min(sent_at) AS first_sent_at, \
                max(sent_at) AS last_sent_at, \
                now() AS \"now!\" \
         FROM email_jobs WHERE incident_id = $1",
        incident_id
    )
    .fetch_one(connection)
    .await
}
