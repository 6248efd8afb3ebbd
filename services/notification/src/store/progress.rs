//! An incident's notices counted by state, for GetIncidentProgress and the
//! metrics, and which incidents the metrics show.

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
    /// BOUNCED: accepted, then reported undeliverable.
    pub bounced: i64,
    /// COMPLAINED: delivered, then reported as spam.
    pub complained: i64,
    /// Of `suppressed`, members without an email address.
    pub no_email_address: i64,
    /// Notices with at least one soft bounce reported.
    pub soft_bounced: i64,
    pub retrying: i64,
    pub failed_retryable: i64,
    pub sent_without_thread_link: i64,
    pub possibly_resent: i64,
    pub sent_last_minute: i64,
    pub first_sent_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// When the most recent notice still delivered (SENT or COMPLAINED)
    /// was accepted.
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl ProgressRow {
    /// Every notice of the incident, whatever its state.
    pub fn total(&self) -> i64 {
        self.queued + self.sending + self.finished()
    }

    /// The notices in a final state: SENT, FAILED, SUPPRESSED, BOUNCED,
    /// COMPLAINED. (SENT may still become BOUNCED or COMPLAINED, or QUEUED
    /// after a soft bounce, when a delivery report comes.)
    pub fn finished(&self) -> i64 {
        self.sent + self.failed + self.suppressed + self.bounced + self.complained
    }

    /// Whether the member list is complete (EnumerationCompleted's total
    /// reached) and every notice is in a final state.
    pub fn settled(&self) -> bool {
        self.expected_total
            .is_some_and(|expected| self.finished() >= expected)
            && self.queued == 0
            && self.sending == 0
    }
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
                count(*) FILTER (WHERE state = 'bounced') AS \"bounced!\", \
                count(*) FILTER (WHERE state = 'complained') AS \"complained!\", \
                count(*) FILTER (WHERE state = 'suppressed' AND suppression_reason = 3) AS \"no_email_address!\", \
                count(*) FILTER (WHERE soft_bounces > 0) AS \"soft_bounced!\", \
                count(*) FILTER (WHERE state = 'queued' AND attempts > 0) AS \"retrying!\", \
                count(*) FILTER (WHERE state = 'failed' AND failure_class = 'retries_exhausted' AND to_address <> '') AS \"failed_retryable!\", \
                count(*) FILTER (WHERE state = 'sent' AND sent_without_thread_link) AS \"sent_without_thread_link!\", \
                count(*) FILTER (WHERE possibly_resent) AS \"possibly_resent!\", \
                count(*) FILTER (WHERE state = 'sent' AND sent_at > now() - interval '60 seconds') AS \"sent_last_minute!\", \
                min(sent_at) AS first_sent_at, \
                max(sent_at) AS last_sent_at, \
                max(sent_at) FILTER (WHERE state IN ('sent', 'complained')) AS last_delivered_at, \
                now() AS \"now!\" \
         FROM email_jobs WHERE incident_id = $1",
        incident_id
    )
    .fetch_one(connection)
    .await
}

/// An incident the metrics show.
#[derive(Debug, Clone)]
pub struct ShownIncident {
    pub incident_id: String,
    pub recorded_at: DateTime<Utc>,
    /// When its notices were first found settled.
    pub notices_settled_at: Option<DateTime<Utc>>,
}

/// The incidents whose notices are not known settled, or settled at or
/// after `settled_since`, oldest first.
pub async fn to_show(
    connection: &mut PgConnection,
    settled_since: DateTime<Utc>,
) -> Result<Vec<ShownIncident>, sqlx::Error> {
    sqlx::query_as!(
        ShownIncident,
        "SELECT incident_id, recorded_at, notices_settled_at FROM incidents \
         WHERE notices_settled_at IS NULL OR notices_settled_at >= $1 \
         ORDER BY recorded_at, incident_id",
        settled_since,
    )
    .fetch_all(connection)
    .await
}

/// Records that the incident's notices are settled, unless it already is
/// recorded; returns when they were first found so.
pub async fn mark_settled(
    connection: &mut PgConnection,
    incident_id: &str,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE incidents SET notices_settled_at = COALESCE(notices_settled_at, now())
           WHERE incident_id = $1
           RETURNING notices_settled_at AS "notices_settled_at!""#,
        incident_id,
    )
    .fetch_one(connection)
    .await
}

/// Forgets that the incident's notices were settled (some are queued again).
pub async fn clear_settled(
    connection: &mut PgConnection,
    incident_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE incidents SET notices_settled_at = NULL \
         WHERE incident_id = $1 AND notices_settled_at IS NOT NULL",
        incident_id,
    )
    .execute(connection)
    .await?;
    Ok(())
}
