//! Logging and tracing: a `tracing` subscriber (human or JSON lines), an
//! OpenTelemetry tracer so every span has W3C trace and span ids, OTLP export
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and propagation of the trace
//! context through gRPC metadata (AMQP headers live in `messaging`).

use std::io::IsTerminal as _;

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, global};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Keeps the tracer provider alive; [`TelemetryGuard::shutdown`] flushes
/// spans still buffered for export. Call it last, after the service stopped.
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes and stops the exporter; errors are reported on stderr because
    /// the subscriber may already be gone.
    pub fn shutdown(self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            eprintln!("telemetry shutdown failed: {error}");
        }
    }
}

/// Installs the global subscriber, tracer provider and W3C propagator.
pub fn init(service_name: &str, config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let tracer_provider = tracer_provider(service_name, config)?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(tracer_provider.clone());
    let tracer = tracer_provider.tracer(service_name.to_owned());

    let filter = EnvFilter::try_new(&config.log_filter)
        .with_context(|| format!("RUST_LOG {:?} is not a valid filter", config.log_filter))?;
    // Spans reach OpenTelemetry at INFO and above whatever RUST_LOG says:
    // a quiet log level must not break trace propagation between services.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(otel_layer);
    let installed = match config.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(escaped_fields())
                    // Colours only for a person at a terminal, never in a
                    // file or a pipe, and never when NO_COLOR is set.
                    .with_ansi(colour_wanted(
                        std::io::stdout().is_terminal(),
                        std::env::var_os("NO_COLOR").as_deref(),
                    ))
                    .with_filter(filter),
            )
            .try_init(),
    };
    installed.context("a global tracing subscriber is already installed")?;
    Ok(TelemetryGuard { tracer_provider })
}

/// Whether output to a stream gets ANSI colours: only a terminal does, and
/// not when `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
/// The services' text logs and candorctl follow this one rule.
pub fn colour_wanted(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

/// Text-log fields with every control character escaped (`\n` as `\\n`,
/// others as `\\u{…}`), so a value from a request (an incident id, a name)
/// cannot forge log lines or terminal escapes. JSON logs are escaped by JSON.
fn escaped_fields() -> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let raw = format!("{value:?}");
        let text = escape_control_characters(&raw);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// `text` with control characters escaped as Rust string literals do.
pub fn escape_control_characters(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if character.is_control() {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// A tracer provider that always produces real trace ids (so they propagate
/// between services) and exports over OTLP/gRPC only when an endpoint is
/// configured. Needs a Tokio runtime when it exports.
pub fn tracer_provider(
    service_name: &str,
    config: &TelemetryConfig,
) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let Some(endpoint) = &config.otel_exporter_otlp_endpoint else {
        return Ok(builder.build());
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .context("cannot build the OTLP exporter for OTEL_EXPORTER_OTLP_ENDPOINT")?;
    Ok(builder.with_batch_exporter(exporter).build())
}

/// Reads a W3C trace context from HTTP/2 headers (gRPC metadata).
pub fn extract_from_http_headers(headers: &http::HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}

/// Writes the current span's W3C trace context into gRPC request metadata.
pub fn inject_into_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata))
    });
}

/// The current span's trace id as 32 hex digits (all zeros outside a trace).
pub fn current_trace_id() -> String {
    use opentelemetry::trace::TraceContextExt;
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = tonic::metadata::MetadataKey::from_bytes(key.as_bytes()) else {
            return;
        };
        if let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_str()) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{colour_wanted, escape_control_characters};

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }

    #[test]
    fn control_characters_are_escaped_and_other_text_kept() {
        assert_eq!(
            escape_control_characters("incident\nforged=line\r\u{1b}[31m"),
            "incident\\nforged=line\\r\\u{1b}[31m"
        );
        assert_eq!(
            escape_control_characters("plain — ünïcode"),
            "plain — ünïcode"
        );
    }
}
