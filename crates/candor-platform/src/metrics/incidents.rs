//! Breach progress per incident: gauge families labelled by `incident`,
//! refilled from the database at every scrape.
//!
//! Incidents are few, so the incident id may be a label; but a series per
//! incident forever would grow without end. Each service shows an incident
//! from when it first records it until `METRICS_INCIDENT_LINGER_SECONDS`
//! after its part is complete, long enough for every scraper to see the
//! final counts, and then the series go away (the families are reset and
//! refilled with only the incidents still shown).

use chrono::{DateTime, Utc};
use prometheus::{GaugeVec, IntGaugeVec, Opts};

use super::Metrics;

/// Where one incident stands for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPhase {
    /// The incident id (a UUID as text).
    pub incident: String,
    /// When this service first recorded the incident.
    pub started_at: DateTime<Utc>,
    /// When this service's part of it was complete, if it is.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The families every service has for its part of each incident:
/// `candor_breach_incident_complete` and
/// `candor_breach_incident_started_timestamp_seconds`.
#[derive(Clone)]
pub struct IncidentLifecycle {
    complete: IntGaugeVec,
    started: GaugeVec,
    linger: chrono::Duration,
}

impl IncidentLifecycle {
    /// Registers the lifecycle families with `metrics`.
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let complete = metrics.register(IntGaugeVec::new(
            Opts::new(
                "candor_breach_incident_complete",
                "1 once this service's part of the incident is complete, else 0.",
            ),
            &["incident"],
        )?)?;
        let started = metrics.register(GaugeVec::new(
            Opts::new(
                "candor_breach_incident_started_timestamp_seconds",
                "When this service first recorded the incident (Unix seconds).",
            ),
            &["incident"],
        )?)?;
        Ok(Self {
            complete,
            started,
            linger: chrono::Duration::from_std(metrics.incident_linger())
                .unwrap_or(chrono::Duration::MAX),
        })
    }

    /// The earliest completion still shown at `now`: incidents complete
    /// before it need not be read at all.
    pub fn linger_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(self.linger)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Resets the lifecycle families and `families`, then shows the
    /// incidents of `phases` still to be shown at `now`. Returns those
    /// incidents, for the caller to fill `families` with.
    pub fn refresh<'a>(
        &self,
        phases: &'a [IncidentPhase],
        families: &[&IncidentGauges],
        now: DateTime<Utc>,
    ) -> Vec<&'a IncidentPhase> {
        self.complete.reset();
        self.started.reset();
        for family in families {
            family.reset();
        }
        let shown: Vec<_> = phases
            .iter()
            .filter(|phase| {
                phase
                    .completed_at
                    .is_none_or(|completed| now - completed <= self.linger)
            })
            .collect();
        for phase in &shown {
            let incident = [phase.incident.as_str()];
            self.complete
                .with_label_values(&incident)
                .set(i64::from(phase.completed_at.is_some()));
            self.started
                .with_label_values(&incident)
                .set(phase.started_at.timestamp_millis() as f64 / 1000.0);
        }
        shown
    }
}

/// One progress family labelled by `incident` (and maybe more bounded
/// labels, such as a notice state).
#[derive(Clone)]
pub struct IncidentGauges {
    family: GaugeVec,
}

impl IncidentGauges {
    /// Registers `name` with the labels `incident` and then `extra_labels`.
    pub fn register(
        metrics: &Metrics,
        name: &str,
        help: &str,
        extra_labels: &[&str],
    ) -> anyhow::Result<Self> {
        let mut labels = vec!["incident"];
        labels.extend_from_slice(extra_labels);
        let family = metrics.register(GaugeVec::new(Opts::new(name, help), &labels)?)?;
        Ok(Self { family })
    }

    /// Sets the series of `incident` with the extra label values `extra`.
    pub fn set(&self, incident: &str, extra: &[&str], value: f64) {
        let mut labels = vec![incident];
        labels.extend_from_slice(extra);
        self.family.with_label_values(&labels).set(value);
    }

    fn reset(&self) {
        self.family.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MetricsConfig;

    #[tokio::test]
    async fn complete_incidents_linger_then_go() {
        let config = MetricsConfig {
            metrics_incident_linger_seconds: 600,
        };
        let metrics = Metrics::new("candor-test", &config).expect("metrics");
        let lifecycle = IncidentLifecycle::register(&metrics).expect("lifecycle");
        let credits = IncidentGauges::register(&metrics, "candor_breach_test_credits", "test", &[])
            .expect("family");
        let now = Utc::now();
        let phase = |id: &str, completed_seconds_ago: Option<i64>| IncidentPhase {
            incident: id.to_owned(),
            started_at: now - chrono::Duration::hours(1),
            completed_at: completed_seconds_ago.map(|ago| now - chrono::Duration::seconds(ago)),
        };
        let phases = [
            phase("running", None),
            phase("just-done", Some(60)),
            phase("long-done", Some(601)),
        ];
        let shown = lifecycle.refresh(&phases, &[&credits], now);
        for phase in &shown {
            credits.set(&phase.incident, &[], 7.0);
        }
        let text = metrics.render().await.expect("render");
        assert!(text.contains(r#"candor_breach_incident_complete{incident="running"} 0"#));
        assert!(text.contains(r#"candor_breach_incident_complete{incident="just-done"} 1"#));
        assert!(text.contains(r#"candor_breach_test_credits{incident="just-done"} 7"#));
        assert!(!text.contains("long-done"), "{text}");

        // The next refresh no longer sees "running": its series go.
        lifecycle.refresh(&phases[1..], &[&credits], now);
        let text = metrics.render().await.expect("render");
        assert!(!text.contains(r#"incident="running""#), "{text}");
    }
}
