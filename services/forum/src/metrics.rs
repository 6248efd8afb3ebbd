//! candor-forum's own metrics (the platform's are registered by
//! `Foundation`): whether each incident's announcement thread is open, read
//! at scrape time.
//!
//! The forum records an incident only by opening its thread (the thread
//! row, in the transaction that handles `breach.reported`), so its part of
//! an incident starts and is complete at the same moment, the thread's
//! `created_at`: `candor_breach_thread_opened` is 1 for every incident it
//! shows, each for `METRICS_INCIDENT_LINGER_SECONDS` after the thread
//! opened.

use anyhow::Context as _;
use candor_platform::metrics::{IncidentGauges, IncidentLifecycle, IncidentPhase, Metrics};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::store::threads;

/// Registers the incident families and the hook refilling them at each
/// scrape. Nothing with metrics off.
pub fn register_incident_progress(metrics: &Metrics, pool: PgPool) -> anyhow::Result<()> {
    if !metrics.is_enabled() {
        return Ok(());
    }
    let incident_metrics = IncidentMetrics {
        lifecycle: IncidentLifecycle::register(metrics)?,
        thread_opened: IncidentGauges::register(
            metrics,
            "candor_breach_thread_opened",
            "1 once the incident's pinned announcement thread is open.",
            &[],
        )?,
        pool,
    };
    metrics.on_scrape_refresh(
        "forum incidents",
        incident_metrics,
        |incident_metrics| async move { incident_metrics.refresh(Utc::now()).await },
    );
    Ok(())
}

#[derive(Clone)]
struct IncidentMetrics {
    lifecycle: IncidentLifecycle,
    thread_opened: IncidentGauges,
    pool: PgPool,
}

impl IncidentMetrics {
    async fn refresh(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let opened_since = self.lifecycle.linger_cutoff(now);
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let phases: Vec<IncidentPhase> =
            threads::incident_threads_opened_since(&mut conn, opened_since)
                .await
                .context("listing the incident threads to show")?
                .into_iter()
                .map(|thread| IncidentPhase {
                    incident: thread.incident_id,
                    started_at: thread.opened_at,
                    completed_at: Some(thread.opened_at),
                })
                .collect();
        for phase in self.lifecycle.refresh(&phases, &[&self.thread_opened], now) {
            self.thread_opened.set(&phase.incident, &[], 1.0);
        }
        Ok(())
    }
}
