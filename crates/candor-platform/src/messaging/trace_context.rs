//! W3C trace context (`traceparent`, `tracestate`) in AMQP headers, so a
//! consumer's span is a child of the publisher's and one breach is one trace
//! across services. Uses the globally installed text-map propagator (set by
//! telemetry at start); without one, nothing is injected or extracted.

use std::collections::BTreeMap;

use lapin::types::{AMQPValue, FieldTable};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header carrying trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";

/// The propagation headers of the current `tracing` span, as text (what the
/// outbox stores and the publisher sends).
pub fn current_headers() -> BTreeMap<String, String> {
    let context = tracing::Span::current().context();
    let mut headers = BTreeMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MapInjector(&mut headers));
    });
    headers
}

/// The context a publisher put in `headers`; an empty context when there is
/// none, so the consumer's span starts a new trace.
pub fn extract(headers: &FieldTable) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&TableExtractor(headers))
    })
}

struct MapInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct TableExtractor<'a>(&'a FieldTable);

impl Extractor for TableExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0.inner().get(key)? {
            AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok(),
            AMQPValue::ShortString(value) => Some(value.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.inner().keys().map(|key| key.as_str()).collect()
    }
}
