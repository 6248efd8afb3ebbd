//! candor-account's own metrics (the platform's are registered by
//! `Foundation`): argon2 hashing load, members acknowledging their security
//! notices, and each incident's affected set and lifecycle, read at scrape
//! time.
//!
//! The account service's part of an incident starts when it records the
//! incident (`incidents.recorded_at`) and is complete when
//! GetIncidentProgress says so: EnumerationCompleted and every
//! AccountsAffected batch confirmed by the broker. It counts as complete
//! from `incidents.completed_at` (when EnumerationCompleted was enqueued),
//! and its series go `METRICS_INCIDENT_LINGER_SECONDS` later.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context as _;
use candor_platform::metrics::{
    GaugeGuard, IncidentGauges, IncidentLifecycle, IncidentPhase, Metrics,
};
use candor_proto::events::v1::UndeliveredReason;
use chrono::{DateTime, Utc};
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts};
use sqlx::PgPool;

use crate::store::{incident_list, incidents};

/// Buckets of one argon2id job: the policy's cost is tens of milliseconds
/// on a server core; a verification that also rehashes costs two.
const HASH_SECONDS_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The argon2 pool's families: how many jobs wait for a permit, how many
/// run, and how long each takes.
#[derive(Clone)]
pub struct PasswordHashMetrics {
    queue_length: IntGauge,
    in_progress: IntGauge,
    seconds: Histogram,
}

impl PasswordHashMetrics {
    /// Registers the families with `metrics` (unregistered, and so
    /// recording nowhere, when metrics are disabled).
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            queue_length: metrics.register(IntGauge::new(
                "candor_password_hash_queue_length",
                "Password hashing jobs waiting for an argon2 permit.",
            )?)?,
            in_progress: metrics.register(IntGauge::new(
                "candor_password_hash_in_progress",
                "Password hashing jobs holding an argon2 permit.",
            )?)?,
            seconds: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    "candor_password_hash_seconds",
                    "Seconds of one password hashing job on its blocking thread (a verification, plus the rehash it may need).",
                )
                .buckets(HASH_SECONDS_BUCKETS.to_vec()),
            )?)?,
        })
    }

    /// Counts a job waiting for a permit until the guard is dropped.
    pub fn waiting(&self) -> GaugeGuard {
        GaugeGuard::new(&self.queue_length)
    }

    /// Counts a job holding a permit until the guard is dropped.
    pub fn running(&self) -> GaugeGuard {
        GaugeGuard::new(&self.in_progress)
    }

    /// Times one job: observed when the returned timer is dropped.
    pub fn time_job(&self) -> JobTimer {
        JobTimer {
            seconds: self.seconds.clone(),
            started: Instant::now(),
        }
    }
}

/// Security notices acknowledged by their member (the first time only),
/// labelled by why the notice is in the product: four values.
#[derive(Clone)]
pub struct NoticeMetrics {
    acknowledged: IntCounterVec,
}

impl std::fmt::Debug for NoticeMetrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NoticeMetrics")
            .finish_non_exhaustive()
    }
}

impl NoticeMetrics {
    /// Registers `candor_account_notices_acknowledged_total` with `metrics`.
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            acknowledged: metrics.register(IntCounterVec::new(
                Opts::new(
                    "candor_account_notices_acknowledged_total",
                    "Security notices a member acknowledged in the product, by why email did not reach them.",
                ),
                &["reason"],
            )?)?,
        })
    }

    /// Counts a first acknowledgement of a notice kept for `reason` (the
    /// stored `UndeliveredReason`).
    pub fn acknowledged(&self, reason: i16) {
        let label = match UndeliveredReason::try_from(i32::from(reason)) {
            Ok(UndeliveredReason::Failed) => "failed",
            Ok(UndeliveredReason::Suppressed) => "suppressed",
            Ok(UndeliveredReason::Bounced) => "bounced",
            Ok(UndeliveredReason::NoEmailAddress) => "no_email_address",
            Ok(UndeliveredReason::Unspecified) | Err(_) => "unspecified",
        };
        self.acknowledged.with_label_values(&[label]).inc();
    }
}

/// Observes the seconds since it was made when dropped.
pub struct JobTimer {
    seconds: Histogram,
    started: Instant,
}

impl Drop for JobTimer {
    fn drop(&mut self) {
        self.seconds.observe(self.started.elapsed().as_secs_f64());
    }
}

/// The incident families and the hook refilling them at each scrape.
#[derive(Clone)]
struct IncidentMetrics {
    lifecycle: IncidentLifecycle,
    accounts_affected: IncidentGauges,
    pool: PgPool,
}

/// Registers `candor_breach_accounts_affected` and the incident lifecycle,
/// refreshed from the database at each scrape. Nothing with metrics off.
pub fn register_incident_progress(metrics: &Metrics, pool: PgPool) -> anyhow::Result<()> {
    if !metrics.is_enabled() {
        return Ok(());
    }
    let incident_metrics = IncidentMetrics {
        lifecycle: IncidentLifecycle::register(metrics)?,
        accounts_affected: IncidentGauges::register(
            metrics,
            "candor_breach_accounts_affected",
            "Accounts in the incident's frozen affected set.",
            &[],
        )?,
        pool,
    };
    metrics.on_scrape_refresh(
        "account incidents",
        incident_metrics,
        |incident_metrics| async move { incident_metrics.refresh(Utc::now()).await },
    );
    Ok(())
}

impl IncidentMetrics {
    async fn refresh(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let completed_since = self.lifecycle.linger_cutoff(now);
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let listed = incident_list::to_show(&mut conn, completed_since)
            .await
            .context("listing the incidents to show")?;
        let mut phases = Vec::with_capacity(listed.len());
        let mut affected = HashMap::with_capacity(listed.len());
        for incident in listed {
            let complete = match incident.completed_at {
                None => false,
                Some(_) => incidents::published(&mut conn, &incident.incident_id)
                    .await
                    .context("counting published batches")?
                    .complete(incident.batch_count),
            };
            affected.insert(incident.incident_id.clone(), incident.affected_accounts);
            phases.push(IncidentPhase {
                incident: incident.incident_id,
                started_at: incident.recorded_at,
                completed_at: incident.completed_at.filter(|_| complete),
            });
        }
        for phase in self
            .lifecycle
            .refresh(&phases, &[&self.accounts_affected], now)
        {
            if let Some(count) = affected.get(&phase.incident) {
                self.accounts_affected
                    .set(&phase.incident, &[], *count as f64);
            }
        }
        Ok(())
    }
}
