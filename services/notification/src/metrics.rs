//! candor-notification's own metrics (the platform's are registered by
//! `Foundation`): what the sender delivered and how the SMTP server
//! answered, recorded where it happens; and each incident's notices by
//! state, read at scrape time.
//!
//! The notification service's part of an incident starts when it records
//! the incident (`incidents.recorded_at`) and is complete when
//! GetIncidentProgress calls it settled: the member list is complete
//! (EnumerationCompleted received, a notice per affected account) and every
//! notice is in a final state (delivered, failed, suppressed, bounced or
//! complained). Counting
//! that takes a pass over the incident's notices, so a scrape counts only
//! the incidents not yet settled or settled within
//! `METRICS_INCIDENT_LINGER_SECONDS`: the first scrape that finds an
//! incident settled stores when (`incidents.notices_settled_at`), and a
//! scrape that finds it unsettled again (RetryFailedNotices) clears it.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context as _;
use candor_platform::metrics::{
    GaugeGuard, IncidentGauges, IncidentLifecycle, IncidentPhase, Metrics,
};
use chrono::{DateTime, Utc};
use prometheus::{Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts};
use sqlx::PgPool;

use crate::domain::reports::{INTAKE_SOURCES, ReportKind};
use crate::store::claims::Outcome;
use crate::store::failures::FailureClass;
use crate::store::progress::{self, ProgressRow};
use crate::store::reports::{ReportError, ReportOutcome};

/// Buckets of one SMTP transaction (with the connection it may open): a
/// local relay answers in milliseconds, a distant provider in seconds, a
/// dead one at `SMTP_TIMEOUT_SECONDS`.
const SMTP_SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// What the sender records as jobs end: emails the SMTP server accepted
/// and jobs that failed for good, by class. Counted once their outcome is
/// written.
#[derive(Clone)]
pub struct DeliveryMetrics {
    sent: IntCounter,
    failed: IntCounterVec,
}

impl DeliveryMetrics {
    /// Registers the families with `metrics` (unregistered, and so
    /// recording nowhere, when metrics are disabled).
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let delivery = Self {
            sent: metrics.register(IntCounter::new(
                "candor_notification_notices_sent_total",
                "Emails (breach notices and transactional) this replica sent and the SMTP server accepted.",
            )?)?,
            failed: metrics.register(IntCounterVec::new(
                Opts::new(
                    "candor_notification_notices_failed_total",
                    "Emails this replica gave up on, by failure class.",
                ),
                &["failure_class"],
            )?)?,
        };
        // Every class from 0, so a first failure is an increase to see.
        for class in [
            FailureClass::RetriesExhausted,
            FailureClass::Refused,
            FailureClass::Unsendable,
        ] {
            delivery.failed.with_label_values(&[class.as_str()]);
        }
        Ok(delivery)
    }

    /// Counts the sent and failed outcomes of a written batch.
    pub fn recorded<'a>(&self, outcomes: impl Iterator<Item = &'a Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Sent { .. } => self.sent.inc(),
                Outcome::Failed { class, .. } => {
                    self.failed.with_label_values(&[class.as_str()]).inc();
                }
                Outcome::Retry { .. } | Outcome::Suppressed { .. } | Outcome::Released { .. } => {}
            }
        }
    }
}

/// `candor_notification_delivery_reports_total{source,kind,outcome}`: the
/// delivery reports received, by where they came from (`dsn`, `arf`, `ses`,
/// `sendgrid`, or `grpc` for every `RecordDeliveryReport` caller's own
/// source: the label stays bounded), what they reported and what became of
/// them (`applied`, `duplicate`, `unmatched`, `invalid`, `error`).
#[derive(Clone)]
pub struct DeliveryReportMetrics {
    reports: IntCounterVec,
}

impl DeliveryReportMetrics {
    /// Registers the family with `metrics` (recording nowhere when metrics
    /// are disabled).
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            reports: metrics.register(IntCounterVec::new(
                Opts::new(
                    "candor_notification_delivery_reports_total",
                    "Delivery reports (bounces, complaints) received, by source (dsn, arf, ses, sendgrid; grpc for RecordDeliveryReport callers' own sources), kind and outcome.",
                ),
                &["source", "kind", "outcome"],
            )?)?,
        })
    }

    /// Counts one report of `source` and `kind` and what recording it gave.
    pub fn count(
        &self,
        source: &str,
        kind: ReportKind,
        result: &Result<ReportOutcome, ReportError>,
    ) {
        let source = INTAKE_SOURCES
            .into_iter()
            .find(|known| *known == source)
            .unwrap_or("grpc");
        let outcome = match result {
            Ok(ReportOutcome::Applied { .. }) => "applied",
            Ok(ReportOutcome::Duplicate { .. }) => "duplicate",
            Ok(ReportOutcome::Unmatched) => "unmatched",
            Err(ReportError::Invalid(_)) => "invalid",
            Err(ReportError::Internal(_)) => "error",
        };
        self.reports
            .with_label_values(&[source, kind.as_str(), outcome])
            .inc();
    }
}

/// How one SMTP transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpOutcome {
    /// The server accepted the message.
    Accepted,
    /// The server answered with a 4xx or 5xx reply.
    Rejected,
    /// No answer: the connection could not be opened or was lost, the
    /// transaction timed out, or the client could not send the message.
    Failed,
}

impl SmtpOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// The SMTP pool's families: open connections and transactions.
#[derive(Clone)]
pub struct SmtpMetrics {
    connections: IntGauge,
    transaction_seconds: HistogramVec,
}

impl SmtpMetrics {
    /// Registers the families with `metrics` (unregistered, and so
    /// recording nowhere, when metrics are disabled).
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let smtp = Self {
            connections: metrics.register(IntGauge::new(
                "candor_smtp_connections",
                "SMTP connections the pool holds open (sending or idle).",
            )?)?,
            transaction_seconds: metrics.register(HistogramVec::new(
                HistogramOpts::new(
                    "candor_smtp_transaction_seconds",
                    "Seconds of one send over the SMTP pool, opening a connection when none was idle, by outcome.",
                )
                .buckets(SMTP_SECONDS_BUCKETS.to_vec()),
                &["outcome"],
            )?)?,
        };
        for outcome in [
            SmtpOutcome::Accepted,
            SmtpOutcome::Rejected,
            SmtpOutcome::Failed,
        ] {
            smtp.transaction_seconds
                .with_label_values(&[outcome.label()]);
        }
        Ok(smtp)
    }

    /// Counts an open connection until the guard is dropped.
    pub fn connection_opened(&self) -> GaugeGuard {
        GaugeGuard::new(&self.connections)
    }

    /// Records one transaction that began at `started`.
    pub fn transaction(&self, outcome: SmtpOutcome, started: Instant) {
        self.transaction_seconds
            .with_label_values(&[outcome.label()])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// The configured send rate, and the incident families with the hook
/// refilling them at each scrape. Nothing with metrics off.
pub fn register_incident_progress(
    metrics: &Metrics,
    pool: PgPool,
    send_rate_per_second: f64,
) -> anyhow::Result<()> {
    if !metrics.is_enabled() {
        return Ok(());
    }
    metrics
        .register(Gauge::new(
            "candor_notification_send_rate_limit_per_second",
            "SEND_RATE_PER_SECOND: emails per second for all replicas together; 0 = no limit.",
        )?)?
        .set(send_rate_per_second);
    let incident_metrics = IncidentMetrics {
        lifecycle: IncidentLifecycle::register(metrics)?,
        notices: IncidentGauges::register(
            metrics,
            "candor_breach_notices",
            "The incident's notices by state (pending: queued for a first attempt; retrying: queued again after a transient failure).",
            &["state"],
        )?,
        possibly_resent: IncidentGauges::register(
            metrics,
            "candor_breach_notices_possibly_resent",
            "Notices found SENDING after a stop, which may have gone out twice.",
            &[],
        )?,
        expected_duration: IncidentGauges::register(
            metrics,
            "candor_breach_notices_expected_duration_seconds",
            "The incident's notices divided by SEND_RATE_PER_SECOND (absent without a limit).",
            &[],
        )?,
        pool,
        send_rate_per_second,
    };
    metrics.on_scrape_refresh(
        "notification incidents",
        incident_metrics,
        |incident_metrics| async move { incident_metrics.refresh(Utc::now()).await },
    );
    Ok(())
}

#[derive(Clone)]
struct IncidentMetrics {
    lifecycle: IncidentLifecycle,
    notices: IncidentGauges,
    possibly_resent: IncidentGauges,
    expected_duration: IncidentGauges,
    pool: PgPool,
    send_rate_per_second: f64,
}

impl IncidentMetrics {
    async fn refresh(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let settled_since = self.lifecycle.linger_cutoff(now);
        let mut connection = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let listed = progress::to_show(&mut connection, settled_since)
            .await
            .context("listing the incidents to show")?;
        let mut phases = Vec::with_capacity(listed.len());
        let mut counts = HashMap::with_capacity(listed.len());
        for incident in listed {
            let id = incident.incident_id;
            let row = progress::incident(&mut connection, &id)
                .await
                .with_context(|| format!("counting the notices of {id}"))?;
            let settled_at = match (row.settled(), incident.notices_settled_at) {
                (true, Some(settled_at)) => Some(settled_at),
                (true, None) => Some(
                    progress::mark_settled(&mut connection, &id)
                        .await
                        .context("recording that the notices settled")?,
                ),
                (false, Some(_)) => {
                    progress::clear_settled(&mut connection, &id)
                        .await
                        .context("recording that the notices are unsettled")?;
                    None
                }
                (false, None) => None,
            };
            phases.push(IncidentPhase {
                incident: id.clone(),
                started_at: incident.recorded_at,
                completed_at: settled_at,
            });
            counts.insert(id, row);
        }
        let families = [
            &self.notices,
            &self.possibly_resent,
            &self.expected_duration,
        ];
        for phase in self.lifecycle.refresh(&phases, &families, now) {
            if let Some(row) = counts.get(&phase.incident) {
                self.show(&phase.incident, row);
            }
        }
        Ok(())
    }

    fn show(&self, incident: &str, row: &ProgressRow) {
        let pending = row.queued - row.retrying;
        for (state, count) in [
            ("pending", pending),
            ("sending", row.sending),
            ("retrying", row.retrying),
            ("delivered", row.sent),
            ("failed", row.failed),
            ("suppressed", row.suppressed),
            ("bounced", row.bounced),
            ("complained", row.complained),
        ] {
            self.notices.set(incident, &[state], count as f64);
        }
        self.possibly_resent
            .set(incident, &[], row.possibly_resent as f64);
        if self.send_rate_per_second > 0.0 {
            let notices = row.expected_total.unwrap_or(row.total());
            self.expected_duration
                .set(incident, &[], notices as f64 / self.send_rate_per_second);
        }
    }
}
