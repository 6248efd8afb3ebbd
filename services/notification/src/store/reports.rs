//! Delivery reports, applied in one place: every way a report arrives (the
//! gRPC `RecordDeliveryReport`, the HTTP intake's DSN, ARF, SES and SendGrid
//! endpoints) ends in [`record_delivery_report`], so every source has the
//! same effect and the same idempotency.
//!
//! In one transaction: a report already recorded under its (`source`,
//! `report_id`) changes nothing ([`ReportOutcome::Duplicate`]); otherwise it
//! is matched to a job — by Message-ID (this service's are all
//! `<job_id@domain>`, so the job is found by its primary key and the domain
//! compared case-insensitively), else by recipient (the most recent email
//! sent to the address); when both are given both must match — and the job
//! is locked. On a SENT job a hard bounce makes it BOUNCED and a complaint
//! COMPLAINED, and both suppress the address; a soft bounce queues it again
//! while fewer than `SOFT_BOUNCE_MAX_RETRIES` came before, then counts as a
//! hard bounce. On a job in any other state the report is recorded and
//! nothing changes. A breach notice that becomes BOUNCED is announced
//! (`notification.notice_undelivered`) through the outbox in the same
//! transaction.
//!
//! Callers count what happened in `candor_notification_delivery_reports_total`
//! with [`crate::metrics::DeliveryReportMetrics::count`].

use anyhow::Context as _;
use candor_proto::events::v1::UndeliveredReason;
use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::undelivered::{self, Undelivered};
use super::{JobKind, JobState};
use crate::domain::reports::{
    self, CheckedReport, DeliveryReport, InvalidReport, MessageId, ReportEffect, ReportKind,
};

/// What recording a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded against the job, which is now in `state` (unchanged when
    /// the job was not SENT).
    Applied {
        /// The job the report matched.
        job_id: Uuid,
        /// The job's state after the report.
        state: JobState,
    },
    /// This (`source`, `report_id`) was recorded before: nothing changed.
    Duplicate {
        /// The job it matched then.
        job_id: Option<Uuid>,
    },
    /// No job has the Message-ID (or, without one, no email was sent to the
    /// recipient), or the two did not match the same job. Nothing is
    /// recorded: the same report may match once the job exists.
    Unmatched,
}

/// Why a report was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A field breaks its rule; `.0.field` names it.
    #[error(transparent)]
    Invalid(#[from] InvalidReport),
    /// The database failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The job a report matched, locked.
#[derive(Debug)]
struct MatchedJob {
    job_id: Uuid,
    kind: JobKind,
    state: JobState,
    to_address: String,
    message_id: String,
    incident_id: Option<String>,
    account_id: Option<Uuid>,
    soft_bounces: i32,
    /// The member deactivated (their address is erased): nothing is
    /// suppressed or announced for them.
    deactivated: bool,
}

/// Records `report` and applies it to the job it matches (module docs);
/// `soft_bounce_max_retries` is `SOFT_BOUNCE_MAX_RETRIES`.
#[tracing::instrument(skip_all, fields(source = %report.source, kind = report.kind.as_str()))]
pub async fn record_delivery_report(
    pool: &PgPool,
    report: &DeliveryReport,
    soft_bounce_max_retries: u32,
) -> Result<ReportOutcome, ReportError> {
    let now = Utc::now();
    let checked = report.check(now)?;
    let mut transaction = pool.begin().await.context("starting a transaction")?;
    if let Some(job_id) = recorded_job(&mut transaction, report).await? {
        return Ok(ReportOutcome::Duplicate {
            job_id: Some(job_id),
        });
    }
    let Some(job) = find_job(&mut transaction, &checked).await? else {
        tracing::info!("delivery report matched no email");
        return Ok(ReportOutcome::Unmatched);
    };
    let effect = reports::effect(
        report.kind,
        job.state == JobState::Sent,
        u32::try_from(job.soft_bounces).unwrap_or(0),
        soft_bounce_max_retries,
        job.kind == JobKind::BreachNotice,
    );
    let state = match effect {
        ReportEffect::Nothing | ReportEffect::CountOnly => job.state,
        ReportEffect::Bounce => JobState::Bounced,
        ReportEffect::Complain => JobState::Complained,
        ReportEffect::SendAgain { .. } => JobState::Queued,
    };
    let inserted = sqlx::query!(
        "INSERT INTO delivery_reports (source, report_id, job_id, kind, applied, resulting_state, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, now())) ON CONFLICT DO NOTHING",
        report.source,
        report.report_id,
        job.job_id,
        report.kind.as_str(),
        effect != ReportEffect::Nothing,
        state.as_str(),
        report.occurred_at,
    )
    .execute(&mut *transaction)
    .await
    .context("recording the report")?
    .rows_affected();
    if inserted == 0 {
        // Recorded by a concurrent call since the look above.
        drop(transaction);
        let mut connection = pool.acquire().await.context("acquiring a connection")?;
        let job_id = recorded_job(&mut connection, report).await?;
        return Ok(ReportOutcome::Duplicate { job_id });
    }
    if effect != ReportEffect::Nothing {
        apply(&mut transaction, &job, report, &checked, effect, state).await?;
    }
    transaction
        .commit()
        .await
        .context("committing the report")?;
    tracing::info!(job_id = %job.job_id, ?effect, state = state.as_str(), "delivery report recorded");
    Ok(ReportOutcome::Applied {
        job_id: job.job_id,
        state,
    })
}

/// The job a report with this (`source`, `report_id`) matched, if it was
/// recorded.
async fn recorded_job(
    connection: &mut PgConnection,
    report: &DeliveryReport,
) -> Result<Option<Uuid>, anyhow::Error> {
    sqlx::query_scalar!(
        "SELECT job_id FROM delivery_reports WHERE source = $1 AND report_id = $2",
        report.source,
        report.report_id,
    )
    .fetch_optional(connection)
    .await
    .context("looking up the report")
}

/// The job the report is about, locked; `None` when there is none or the
/// Message-ID and the recipient do not agree.
async fn find_job(
    connection: &mut PgConnection,
    checked: &CheckedReport<'_>,
) -> Result<Option<MatchedJob>, anyhow::Error> {
    let Some(message_id) = &checked.message_id else {
        let Some(recipient) = &checked.recipient else {
            return Ok(None);
        };
        return job_sent_last_to(connection, recipient).await;
    };
    let Some(job_id) = message_id.job_id() else {
        return Ok(None);
    };
    let Some(job) = job_by_id(connection, job_id).await? else {
        return Ok(None);
    };
    if MessageId::parse(&job.message_id).as_ref() != Some(message_id) {
        return Ok(None);
    }
    // An erased address (the member deactivated) cannot be compared: the
    // Message-ID alone names the job.
    let recipient_agrees = match &checked.recipient {
        Some(recipient) => job.to_address.is_empty() || job.to_address.to_lowercase() == *recipient,
        None => true,
    };
    Ok(recipient_agrees.then_some(job))
}

async fn job_by_id(
    connection: &mut PgConnection,
    job_id: Uuid,
) -> Result<Option<MatchedJob>, anyhow::Error> {
    sqlx::query_as!(
        MatchedJob,
        r#"SELECT j.job_id, j.kind AS "kind: JobKind", j.state AS "state: JobState", j.to_address,
                  j.message_id, j.incident_id, j.account_id, j.soft_bounces,
                  EXISTS (SELECT 1 FROM deactivated_accounts d WHERE d.account_id = j.account_id)
                      AS "deactivated!"
           FROM email_jobs j WHERE j.job_id = $1
           FOR UPDATE OF j"#,
        job_id,
    )
    .fetch_optional(connection)
    .await
    .context("finding the job by its Message-ID")
}

/// The most recent email sent to `recipient` (lower-cased), locked.
async fn job_sent_last_to(
    connection: &mut PgConnection,
    recipient: &str,
) -> Result<Option<MatchedJob>, anyhow::Error> {
    sqlx::query_as!(
        MatchedJob,
        r#"SELECT j.job_id, j.kind AS "kind: JobKind", j.state AS "state: JobState", j.to_address,
                  j.message_id, j.incident_id, j.account_id, j.soft_bounces,
                  EXISTS (SELECT 1 FROM deactivated_accounts d WHERE d.account_id = j.account_id)
                      AS "deactivated!"
           FROM email_jobs j
           WHERE lower(j.to_address) = $1 AND j.to_address <> '' AND j.sent_at IS NOT NULL
           ORDER BY j.sent_at DESC, j.job_id DESC
           LIMIT 1
           FOR UPDATE OF j"#,
        recipient,
    )
    .fetch_optional(connection)
    .await
    .context("finding the last email sent to the recipient")
}

/// Changes the job as `effect` says, suppresses its address when it
/// bounced or was complained about, and announces a bounced breach notice.
async fn apply(
    connection: &mut PgConnection,
    job: &MatchedJob,
    report: &DeliveryReport,
    checked: &CheckedReport<'_>,
    effect: ReportEffect,
    state: JobState,
) -> Result<(), anyhow::Error> {
    let soft_bounce = i32::from(report.kind == ReportKind::SoftBounce);
    let delay_seconds = match effect {
        ReportEffect::SendAgain { delay } => delay.as_secs_f64(),
        _ => 0.0,
    };
    sqlx::query!(
        "WITH updated AS ( \
            UPDATE email_jobs SET state = $2::text, soft_bounces = soft_bounces + $3, \
                   attempts = CASE WHEN $2::text = 'queued' THEN 0 ELSE attempts END, \
                   next_attempt_at = CASE WHEN $2::text = 'queued' \
                       THEN now() + make_interval(secs => $4) ELSE next_attempt_at END, \
                   claimed_by = NULL, \
                   content = CASE WHEN $2::text IN ('bounced', 'complained') THEN NULL ELSE content END, \
                   report_kind = $5, delivery_report = $6, reported_at = now(), updated_at = now() \
            WHERE job_id = $1 \
            RETURNING job_id, priority, next_attempt_at, incident_id, state) \
         INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id) \
         SELECT job_id, priority, next_attempt_at, incident_id FROM updated WHERE state = 'queued'",
        job.job_id,
        state.as_str(),
        soft_bounce,
        delay_seconds,
        report.kind.as_str(),
        checked.detail,
    )
    .execute(&mut *connection)
    .await
    .context("updating the job")?;
    let suppress_as = match state {
        JobState::Bounced => Some("bounced"),
        JobState::Complained => Some("complained"),
        _ => None,
    };
    let reachable = !job.deactivated && !job.to_address.is_empty();
    if let Some(cause) = suppress_as.filter(|_| reachable) {
        let reason = format!(
            "{} reported by {}: {}",
            report.kind.as_str(),
            report.source,
            checked.detail
        );
        sqlx::query!(
            "INSERT INTO suppressed_addresses (address, reason, cause) VALUES (lower($1), $2, $3) \
             ON CONFLICT DO NOTHING",
            job.to_address,
            reason,
            cause,
        )
        .execute(&mut *connection)
        .await
        .context("suppressing the address")?;
    }
    if let (ReportEffect::SendAgain { .. }, Some(incident_id)) = (effect, &job.incident_id) {
        // No longer settled: shown in the metrics again.
        super::progress::clear_settled(connection, incident_id)
            .await
            .context("recording that the notices are unsettled")?;
    }
    if let (JobState::Bounced, JobKind::BreachNotice, Some(incident_id), Some(account_id), true) =
        (state, job.kind, &job.incident_id, job.account_id, reachable)
    {
        undelivered::announce(
            connection,
            &[Undelivered {
                incident_id: incident_id.clone(),
                account_id,
                reason: UndeliveredReason::Bounced,
            }],
            Utc::now(),
        )
        .await
        .context("announcing the undelivered notice")?;
    }
    Ok(())
}
