//! Reading jobs back as deliveries: one, or a filtered page.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::JobKind;

/// One job as the API shows it.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub job_id: Uuid,
    pub kind: JobKind,
    pub incident_id: Option<String>,
    pub account_id: Option<Uuid>,
    pub to_address: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub suppression_reason: Option<i16>,
    pub message_id: String,
    pub sent_without_thread_link: bool,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The last delivery report's kind (`hard_bounce`, …), if any.
    pub report_kind: Option<String>,
    /// What the provider said in the last delivery report.
    pub delivery_report: Option<String>,
    /// When the last delivery report was recorded.
    pub reported_at: Option<DateTime<Utc>>,
    /// Soft bounces reported.
    pub soft_bounces: i32,
}

pub async fn get(
    connection: &mut PgConnection,
    job_id: Uuid,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as!(
        DeliveryRow,
        "SELECT job_id, kind AS \"kind: JobKind\", incident_id, account_id, to_address, state, \
                attempts, last_error, suppression_reason, message_id, sent_without_thread_link, \
                created_at, next_attempt_at, sent_at, updated_at, report_kind, delivery_report, \
                reported_at, soft_bounces \
         FROM email_jobs WHERE job_id = $1",
        job_id
    )
    .fetch_optional(connection)
    .await
}

/// Filters of a listing; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub incident_id: Option<String>,
    pub account_id: Option<Uuid>,
    pub state: Option<&'static str>,
    pub kind: Option<JobKind>,
}

/// Up to `limit` deliveries after `after` (exclusive), ordered by
/// (created_at, job_id).
pub async fn list(
    connection: &mut PgConnection,
    filter: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u32,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as!(
        DeliveryRow,
        "SELECT job_id, kind AS \"kind: JobKind\", incident_id, account_id, to_address, state, \
                attempts, last_error, suppression_reason, message_id, sent_without_thread_link, \
                created_at, next_attempt_at, sent_at, updated_at, report_kind, delivery_report, \
                reported_at, soft_bounces \
         FROM email_jobs \
         WHERE ($1::text IS NULL OR incident_id = $1) \
           AND ($2::uuid IS NULL OR account_id = $2) \
           AND ($3::text IS NULL OR state = $3) \
           AND ($4::text IS NULL OR kind = $4) \
           AND ($5::timestamptz IS NULL OR (created_at, job_id) > ($5, $6)) \
         ORDER BY created_at, job_id \
         LIMIT $7",
        filter.incident_id.as_deref(),
        filter.account_id,
        filter.state,
        filter.kind.map(JobKind::as_str),
        after.map(|(created_at, _)| created_at),
        after.map(|(_, job_id)| job_id),
        i64::from(limit),
    )
    .fetch_all(connection)
    .await
}
