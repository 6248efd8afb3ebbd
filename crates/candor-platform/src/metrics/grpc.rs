//! gRPC server metrics under the names every gRPC dashboard knows
//! (`grpc_server_started_total`, `grpc_server_handled_total`,
//! `grpc_server_handling_seconds`, as go-grpc-prometheus defined them), from
//! a tower layer outside the permission guard and the load shedder, so
//! refused and shed calls are counted too.
//!
//! Labels come from a table of the methods Candor serves (its contracts,
//! health and reflection), never from the raw path: a caller sending made-up
//! paths lands in `unknown` instead of growing the label set.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::Frame;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use prost::Message as _;
use tonic::body::Body;

use super::{LATENCY_BUCKETS, Metrics};

/// The families of [`GrpcMetricsLayer`].
#[derive(Clone)]
pub(crate) struct GrpcMetrics {
    started: IntCounterVec,
    handled: IntCounterVec,
    handling_seconds: HistogramVec,
}

impl GrpcMetrics {
    pub(crate) fn register(registry: &Registry) -> anyhow::Result<Self> {
        let labels = ["grpc_service", "grpc_method", "grpc_type"];
        let started = IntCounterVec::new(
            Opts::new("grpc_server_started_total", "RPCs started on the server."),
            &labels,
        )?;
        let handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "RPCs completed on the server, by status code.",
            ),
            &["grpc_service", "grpc_method", "grpc_type", "grpc_code"],
        )?;
        let handling_seconds = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Seconds from the request to the end of the response (for a stream, its whole life).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &labels,
        )?;
        registry.register(Box::new(started.clone()))?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(handling_seconds.clone()))?;
        Ok(Self {
            started,
            handled,
            handling_seconds,
        })
    }
}

/// What the labels say about one method.
#[derive(Debug, Clone, Copy)]
struct MethodLabels {
    service: &'static str,
    method: &'static str,
    kind: &'static str,
}

const UNKNOWN: MethodLabels = MethodLabels {
    service: "unknown",
    method: "unknown",
    kind: "unknown",
};

/// Every method a Candor server may serve, by request path.
fn method_table() -> &'static HashMap<String, MethodLabels> {
    static TABLE: OnceLock<HashMap<String, MethodLabels>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for encoded in [
            candor_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
                continue;
            };
            for file in set.file {
                let package = file.package().to_owned();
                for service in &file.service {
                    let full_name: &'static str = leak(if package.is_empty() {
                        service.name().to_owned()
                    } else {
                        format!("{package}.{}", service.name())
                    });
                    for method in &service.method {
                        let kind = match (method.client_streaming(), method.server_streaming()) {
                            (false, false) => "unary",
                            (false, true) => "server_stream",
                            (true, false) => "client_stream",
                            (true, true) => "bidi_stream",
                        };
                        table.insert(
                            format!("/{full_name}/{}", method.name()),
                            MethodLabels {
                                service: full_name,
                                method: leak(method.name().to_owned()),
                                kind,
                            },
                        );
                    }
                }
            }
        }
        table
    })
}

/// The table lives as long as the process; its strings are leaked once.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The Go name of a gRPC status code, as `grpc_code` values are written.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

fn status_code(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
}

/// Counts and times every call of the service it wraps.
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: Option<Arc<GrpcMetrics>>,
}

impl GrpcMetricsLayer {
    /// A layer recording into `metrics` (nothing when disabled).
    pub fn new(metrics: &Metrics) -> Self {
        Self {
            metrics: metrics.grpc().cloned().map(Arc::new),
        }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`GrpcMetricsLayer`].
#[derive(Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: Option<Arc<GrpcMetrics>>,
}

impl<S, RequestBody, ResponseBody> tower::Service<http::Request<RequestBody>>
    for GrpcMetricsService<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResponseBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let Some(metrics) = self.metrics.clone() else {
            let future = self.inner.call(request);
            return Box::pin(async move { Ok(future.await?.map(Body::new)) });
        };
        let labels = method_table()
            .get(request.uri().path())
            .copied()
            .unwrap_or(UNKNOWN);
        metrics
            .started
            .with_label_values(&[labels.service, labels.method, labels.kind])
            .inc();
        let call = Call {
            metrics,
            labels,
            started: Instant::now(),
            recorded: false,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut call = call;
            let response = match future.await {
                Ok(response) => response,
                Err(error) => {
                    call.finish(tonic::Code::Unknown);
                    return Err(error);
                }
            };
            // A call that fails before any message is a "trailers-only"
            // response: its status is in the headers.
            if let Some(code) = status_code(response.headers()) {
                call.finish(code);
                return Ok(response.map(Body::new));
            }
            Ok(response.map(|body| {
                Body::new(MeasuredBody {
                    inner: Body::new(body),
                    call,
                })
            }))
        })
    }
}

/// One call in flight; records its outcome exactly once.
struct Call {
    metrics: Arc<GrpcMetrics>,
    labels: MethodLabels,
    started: Instant,
    recorded: bool,
}

impl Call {
    fn finish(&mut self, code: tonic::Code) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let MethodLabels {
            service,
            method,
            kind,
        } = self.labels;
        self.metrics
            .handled
            .with_label_values(&[service, method, kind, code_name(code)])
            .inc();
        self.metrics
            .handling_seconds
            .with_label_values(&[service, method, kind])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    /// A response dropped before its trailers: the client went away.
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

/// A response body that records the call when its trailers pass.
struct MeasuredBody {
    inner: Body,
    call: Call,
}

impl http_body::Body for MeasuredBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = status_code(trailers).unwrap_or(tonic::Code::Unknown);
                    this.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.finish(tonic::Code::Internal),
            Poll::Ready(None) => this.call.finish(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_candor_health_and_reflection_methods() {
        let table = method_table();
        let check = &table["/grpc.health.v1.Health/Check"];
        assert_eq!(
            (check.service, check.method, check.kind),
            ("grpc.health.v1.Health", "Check", "unary")
        );
        assert_eq!(table["/grpc.health.v1.Health/Watch"].kind, "server_stream");
        assert_eq!(
            table["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"].kind,
            "bidi_stream"
        );
        let candor = table
            .values()
            .filter(|labels| labels.service.starts_with("candor."))
            .count();
        assert!(candor > 20, "only {candor} Candor methods in the table");
        assert!(!table.contains_key("/made.up.Service/Method"));
    }

    #[test]
    fn codes_have_their_go_names() {
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::Cancelled), "Canceled");
        assert_eq!(code_name(tonic::Code::InvalidArgument), "InvalidArgument");
    }
}
