//! Why breach notices FAILED, and queuing again those whose failure may
//! pass (RetryFailedNotices).

use sqlx::PgConnection;

/// Why a job FAILED, as stored in `email_jobs.failure_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Transient failures (unreachable server, 4xx, timeouts) until
    /// SEND_MAX_ATTEMPTS: worth another round once the cause is fixed.
    RetriesExhausted,
    /// The SMTP server refused the recipient or the message (5xx); the
    /// address is suppressed.
    Refused,
    /// The email could not be built, or the client would not send it.
    Unsendable,
}

impl FailureClass {
    /// The name stored in `email_jobs.failure_class` (the column's CHECK).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetriesExhausted => "retries_exhausted",
            Self::Refused => "refused",
            Self::Unsendable => "unsendable",
        }
    }

    /// The class of a stored name; `None` for NULL or a name this build does
    /// not know.
    pub fn parse(stored: Option<&str>) -> Option<Self> {
        match stored? {
            "retries_exhausted" => Some(Self::RetriesExhausted),
            "refused" => Some(Self::Refused),
            "unsendable" => Some(Self::Unsendable),
            _ => None,
        }
    }

    /// Whether RetryFailedNotices queues a job of this class again.
    pub fn retryable(self) -> bool {
        self == Self::RetriesExhausted
    }
}

/// FAILED jobs of an incident sharing a class and a reason.
#[derive(Debug, Clone)]
pub struct FailureGroupRow {
    pub failure_class: Option<String>,
    pub reason: Option<String>,
    pub count: i64,
}

/// The incident's FAILED jobs grouped by class and reason, largest group
/// first, at most `limit` groups.
pub async fn groups(
    connection: &mut PgConnection,
    incident_id: &str,
    limit: i64,
) -> Result<Vec<FailureGroupRow>, sqlx::Error> {
    sqlx::query_as!(
        FailureGroupRow,
        r#"SELECT failure_class, last_error AS reason, count(*) AS "count!"
           FROM email_jobs
           WHERE incident_id = $1 AND state = 'failed'
           GROUP BY failure_class, last_error
           ORDER BY count(*) DESC, failure_class, last_error
           LIMIT $2"#,
        incident_id,
        limit,
    )
    .fetch_all(connection)
    .await
}

/// What [`requeue_retryable`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Jobs queued again.
    pub requeued: i64,
    /// Jobs left FAILED: refused by the SMTP server.
    pub refused: i64,
    /// Jobs left FAILED: could not be built or sent by the client (or of
    /// no known class).
    pub unsendable: i64,
    /// Jobs left FAILED although retryable: their account was deactivated
    /// since (the address is erased).
    pub deactivated: i64,
}

/// Queues again the incident's FAILED jobs of class `retries_exhausted`
/// whose address is still known, each with its attempts counted afresh,
/// and counts the FAILED jobs it leaves. The rows are locked, so two calls
/// at once queue each job once.
pub async fn requeue_retryable(
    connection: &mut PgConnection,
    incident_id: &str,
) -> Result<Requeued, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH failed AS (
               SELECT job_id, failure_class, to_address <> '' AS has_address
               FROM email_jobs
               WHERE incident_id = $1 AND state = 'failed'
               FOR UPDATE),
           requeued AS (
               UPDATE email_jobs j
                  SET state = 'queued', attempts = 0, failure_class = NULL,
                      next_attempt_at = now(), updated_at = now()
                 FROM failed f
                WHERE j.job_id = f.job_id AND f.failure_class = 'retries_exhausted'
                  AND f.has_address
               RETURNING j.job_id, j.priority, j.next_attempt_at, j.incident_id),
           queued AS (
               INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id)
               SELECT job_id, priority, next_attempt_at, incident_id FROM requeued
               RETURNING job_id)
           SELECT (SELECT count(*) FROM queued) AS "requeued!",
                  count(*) FILTER (WHERE failure_class = 'refused') AS "refused!",
                  count(*) FILTER (WHERE failure_class IS DISTINCT FROM 'refused'
                                     AND failure_class IS DISTINCT FROM 'retries_exhausted')
                      AS "unsendable!",
                  count(*) FILTER (WHERE failure_class = 'retries_exhausted'
                                     AND NOT has_address) AS "deactivated!"
           FROM failed"#,
        incident_id,
    )
    .fetch_one(connection)
    .await?;
    Ok(Requeued {
        requeued: row.requeued,
        refused: row.refused,
        unsendable: row.unsendable,
        deactivated: row.deactivated,
    })
}
