//! A process-wide tracing setup for tests: spans get real W3C trace ids (an
//! OpenTelemetry tracer without exporter) and the W3C propagator is
//! installed, so tests can check that a trace crosses a gRPC call or an AMQP
//! hop. Logs go to the test's captured output, filtered by `RUST_LOG`.

use std::sync::Once;

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

static INIT: Once = Once::new();

/// Installs the test subscriber once per process; later calls do nothing.
pub fn init() {
    INIT.call_once(|| {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("candor-tests");
        opentelemetry::global::set_tracer_provider(provider);
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        // Another subscriber may already be installed by the test itself.
        let _ = tracing_subscriber::registry()
            // Every span reaches OpenTelemetry whatever RUST_LOG says, so
            // trace ids exist for the tests that follow them.
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(filter),
            )
            .try_init();
    });
}
