//! Prometheus metrics: one registry per service, served at `GET /metrics`
//! on `METRICS_ADDR` in the classic text format.
//!
//! Why the `prometheus` crate (TiKV's) rather than `prometheus-client` or
//! OpenTelemetry metrics: it writes the classic text exposition format,
//! which every Prometheus and `promtool check metrics` read (promtool 2.x
//! rejects the OpenMetrics text `prometheus-client` writes), it carries the
//! standard Linux process collector, and its registry is a cheap handle.
//!
//! Every service has its own [`Metrics`] (four services may share a process
//! in tests). Counters and histograms are recorded where things happen;
//! gauges that live in the database (outbox backlog, incident progress) are
//! read when Prometheus scrapes, by hooks registered with
//! [`Metrics::on_scrape`], so nothing is sampled while nobody looks.
//! `METRICS_ADDR=off` gives [`Metrics::disabled`]: every record call is a
//! no-op and nothing is served.
//!
//! Label sets are bounded: never an account id, an email address or free
//! text. The one id label is `incident`, on the `candor_breach_*` families,
//! whose series go away after the incident ([`incidents`]).

pub mod grpc;
mod http;
pub mod incidents;
pub mod messaging;
mod platform_gauges;

pub use http::serve;
pub use incidents::{IncidentGauges, IncidentLifecycle, IncidentPhase};
pub use platform_gauges::register_platform_gauges;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use prometheus::core::Collector;
use prometheus::{Encoder as _, Registry, TextEncoder};

use crate::config::MetricsConfig;

/// How long one scrape hook may take before the scrape goes on without it
/// (its gauges keep their previous values).
const SCRAPE_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// A future a scrape hook returns.
pub type ScrapeFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

type ScrapeHook = Arc<dyn Fn() -> ScrapeFuture + Send + Sync>;

/// One service's metrics: its registry and the families the platform
/// records into. Cheap to clone; [`Metrics::disabled`] records nothing.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    registry: Registry,
    grpc: grpc::GrpcMetrics,
    messaging: messaging::MessagingMetrics,
    scrape_hooks: Mutex<Vec<(&'static str, ScrapeHook)>>,
    /// One scrape at a time: hooks reset and refill gauge families, which
    /// two interleaved scrapes would tear.
    scrape_lock: tokio::sync::Mutex<()>,
    incident_linger: Duration,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Metrics")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl Metrics {
    /// The metrics of `service` (`candor-account`, …): build info, the
    /// process collector, and the platform's gRPC and messaging families.
    pub fn new(service: &str, config: &MetricsConfig) -> anyhow::Result<Self> {
        let registry = Registry::new();
        let build_info = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "candor_build_info",
                "Always 1; the labels say which service and version run.",
            ),
            &["service", "version"],
        )?;
        build_info
            .with_label_values(&[service, env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(build_info))?;
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .context("registering the process collector")?;
        let grpc = grpc::GrpcMetrics::register(&registry)?;
        let messaging = messaging::MessagingMetrics::register(&registry)?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                registry,
                grpc,
                messaging,
                scrape_hooks: Mutex::new(Vec::new()),
                scrape_lock: tokio::sync::Mutex::new(()),
                incident_linger: config.incident_linger(),
            })),
        })
    }

    /// No metrics: every record call does nothing, nothing is served.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Whether anything is recorded.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Registers a service's own family and hands it back. With metrics
    /// disabled the family is returned unregistered (recording into it is
    /// cheap and goes nowhere).
    pub fn register<C: Collector + Clone + 'static>(&self, collector: C) -> anyhow::Result<C> {
        if let Some(inner) = &self.inner {
            let name = collector
                .desc()
                .first()
                .map(|desc| desc.fq_name.clone())
                .unwrap_or_default();
            inner
                .registry
                .register(Box::new(collector.clone()))
                .with_context(|| format!("registering metric {name}"))?;
        }
        Ok(collector)
    }

    /// Runs `hook` before every scrape (with a timeout), to refresh gauges
    /// read from the database or the broker. `name` appears in the log when
    /// the hook is slow.
    pub fn on_scrape<F>(&self, name: &'static str, hook: F)
    where
        F: Fn() -> ScrapeFuture + Send + Sync + 'static,
    {
        if let Some(inner) = &self.inner
            && let Ok(mut hooks) = inner.scrape_hooks.lock()
        {
            hooks.push((name, Arc::new(hook)));
        }
    }

    /// Runs `refresh(state)` before every scrape, like [`Metrics::on_scrape`],
    /// logging (with `name`) a refresh that fails; the gauges it would have
    /// set keep their previous values.
    pub fn on_scrape_refresh<T, F, Fut>(&self, name: &'static str, state: T, refresh: F)
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.on_scrape(name, move || {
            let refreshed = refresh(state.clone());
            Box::pin(async move {
                if let Err(error) = refreshed.await {
                    tracing::warn!(hook = name, error = %format!("{error:#}"), "cannot refresh metrics");
                }
            })
        });
    }

    /// How long a complete incident's series stay (`METRICS_INCIDENT_LINGER_SECONDS`).
    pub fn incident_linger(&self) -> Duration {
        self.inner
            .as_ref()
            .map_or(Duration::ZERO, |inner| inner.incident_linger)
    }

    /// Runs the scrape hooks, then renders every family in the text format.
    pub async fn render(&self) -> anyhow::Result<String> {
        let Some(inner) = &self.inner else {
            return Ok(String::new());
        };
        let _one_at_a_time = inner.scrape_lock.lock().await;
        let hooks: Vec<_> = inner
            .scrape_hooks
            .lock()
            .map(|hooks| hooks.clone())
            .unwrap_or_default();
        let runs = hooks.into_iter().map(|(name, hook)| async move {
            if tokio::time::timeout(SCRAPE_HOOK_TIMEOUT, hook())
                .await
                .is_err()
            {
                tracing::warn!(
                    hook = name,
                    timeout_seconds = SCRAPE_HOOK_TIMEOUT.as_secs(),
                    "metrics scrape hook timed out, serving its previous values"
                );
            }
        });
        futures::future::join_all(runs).await;
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&inner.registry.gather(), &mut text)
            .context("encoding the metrics")?;
        String::from_utf8(text).context("the metrics text is not UTF-8")
    }

    /// The gRPC server families, when enabled.
    pub(crate) fn grpc(&self) -> Option<&grpc::GrpcMetrics> {
        self.inner.as_ref().map(|inner| &inner.grpc)
    }

    /// The consumer and publisher families, when enabled.
    pub(crate) fn messaging(&self) -> Option<&messaging::MessagingMetrics> {
        self.inner.as_ref().map(|inner| &inner.messaging)
    }
}

/// Adds one to a gauge while it lives (a job queued, a connection open).
#[must_use = "the gauge goes down again when the guard is dropped"]
pub struct GaugeGuard(prometheus::IntGauge);

impl GaugeGuard {
    /// Adds one to `gauge` until the guard is dropped.
    pub fn new(gauge: &prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Default buckets for latencies of calls and handlers: 1 ms to 30 s.
pub(crate) const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
