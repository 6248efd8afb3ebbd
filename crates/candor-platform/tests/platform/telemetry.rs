//! Traces leave the process over OTLP/gRPC when an endpoint is configured:
//! a collector started here receives the span with the service's name.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_platform::config::TelemetryConfig;
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio_stream::wrappers::TcpListenerStream;

/// (service.name, span name) of every span the collector received.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, String)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| resource.attributes.iter())
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref())
                .map(|value| format!("{:?}", value.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_set() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    let server = tokio::spawn(server);

    let config = TelemetryConfig {
        otel_exporter_otlp_endpoint: Some(format!("http://{addr}")),
        ..TelemetryConfig::default()
    };
    let provider =
        candor_platform::telemetry::tracer_provider("candor-otlp-test", &config).unwrap();
    provider
        .tracer("test")
        .in_span("exported-span", |_context| {});
    let flushed = tokio::task::spawn_blocking({
        let provider = provider.clone();
        move || provider.force_flush()
    })
    .await
    .unwrap();
    assert!(flushed.is_ok(), "flush: {flushed:?}");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans = collector.spans.lock().unwrap().clone();
        if let Some((service, _)) = spans.iter().find(|(_, name)| name == "exported-span") {
            assert!(
                service.contains("candor-otlp-test"),
                "service.name was {service}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no span reached the collector: {spans:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    server.abort();
}

#[test]
fn without_an_endpoint_spans_still_get_real_trace_ids() {
    use opentelemetry::trace::TraceContextExt;
    let provider =
        candor_platform::telemetry::tracer_provider("candor-test", &TelemetryConfig::default())
            .unwrap();
    let trace_id = provider
        .tracer("test")
        .in_span("local", |context| context.span().span_context().trace_id());
    assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID);
}
