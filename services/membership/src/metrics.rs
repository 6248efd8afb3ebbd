//! candor-membership's own metrics (the platform's are registered by
//! `Foundation`): each incident's compensation progress and lifecycle, read
//! at scrape time.
//!
//! The membership service's part of an incident starts when it records the
//! incident's `breach.reported` (`incidents.reported_at`; totals that
//! arrive first do not make it known, as in GetIncidentProgress) and is
//! complete when GetIncidentProgress says so: EnumerationCompleted received
//! and every expected account handled (credited, already lifetime, or
//! skipped). It counts as complete from the later of the last batch
//! processed and EnumerationCompleted's time, and its series go
//! `METRICS_INCIDENT_LINGER_SECONDS` later.

use std::collections::HashMap;

use anyhow::Context as _;
use candor_platform::metrics::{IncidentGauges, IncidentLifecycle, IncidentPhase, Metrics};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::store::incidents::{self, ProgressRow};

/// Registers the incident families and the hook refilling them at each
/// scrape. Nothing with metrics off.
pub fn register_incident_progress(metrics: &Metrics, pool: PgPool) -> anyhow::Result<()> {
    if !metrics.is_enabled() {
        return Ok(());
    }
    let incident_metrics = IncidentMetrics {
        lifecycle: IncidentLifecycle::register(metrics)?,
        credits_granted: IncidentGauges::register(
            metrics,
            "candor_breach_credits_granted",
            "Affected accounts granted the incident's compensation (one ledger entry each).",
            &[],
        )?,
        credits_expected: IncidentGauges::register(
            metrics,
            "candor_breach_credits_expected",
            "Affected accounts to compensate (EnumerationCompleted's total; absent until it arrived).",
            &[],
        )?,
        pool,
    };
    metrics.on_scrape_refresh(
        "membership incidents",
        incident_metrics,
        |incident_metrics| async move { incident_metrics.refresh(Utc::now()).await },
    );
    Ok(())
}

#[derive(Clone)]
struct IncidentMetrics {
    lifecycle: IncidentLifecycle,
    credits_granted: IncidentGauges,
    credits_expected: IncidentGauges,
    pool: PgPool,
}

impl IncidentMetrics {
    async fn refresh(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let active_since = self.lifecycle.linger_cutoff(now);
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let listed = incidents::to_show(&mut conn, active_since)
            .await
            .context("listing the incidents to show")?;
        let mut phases = Vec::with_capacity(listed.len());
        let mut rows = HashMap::with_capacity(listed.len());
        for incident_id in listed {
            let Some(row) = incidents::progress(&mut conn, &incident_id)
                .await
                .with_context(|| format!("reading the progress of {incident_id}"))?
            else {
                continue;
            };
            let Some(started_at) = row.reported_at else {
                continue;
            };
            // Complete implies EnumerationCompleted, so the later is known.
            let completed_at = row
                .complete()
                .then(|| row.last_processed_at.max(row.enumeration_completed_at))
                .flatten();
            phases.push(IncidentPhase {
                incident: incident_id.clone(),
                started_at,
                completed_at,
            });
            rows.insert(incident_id, row);
        }
        let families = [&self.credits_granted, &self.credits_expected];
        for phase in self.lifecycle.refresh(&phases, &families, now) {
            if let Some(row) = rows.get(&phase.incident) {
                self.show(&phase.incident, row);
            }
        }
        Ok(())
    }

    fn show(&self, incident: &str, row: &ProgressRow) {
        self.credits_granted.set(incident, &[], row.credited as f64);
        if let Some(expected) = row.expected_total {
            self.credits_expected.set(incident, &[], expected as f64);
        }
    }
}
