//! One way to serve a Candor service over gRPC: the standard health service,
//! server reflection (v1 and v1alpha, so `grpcurl` and older clients work)
//! listing only the services the port serves, a
//! tracing layer that joins the caller's trace, and graceful shutdown (health
//! goes NOT_SERVING first, in-flight calls finish under a grace timeout),
//! TLS when configured ([`GrpcTls`]), the permission table enforced before
//! any body is decoded ([`guard`]), and limits on streams, concurrency and
//! time ([`limits`]; message sizes are set on each generated service with
//! [`crate::config::ServerConfig::max_message_bytes`]), and one table from
//! error kinds to statuses ([`error_kind`]). Calls to other services go
//! through [`candor_client`] as [`outgoing`] sets it up.

pub mod certificates;
pub mod deadline;
pub mod error_kind;
pub mod guard;
pub mod limits;
pub mod outgoing;
pub mod request_check;
mod tls;

pub use error_kind::{
    ERROR_DOMAIN, ErrorKind, IncidentLookupError, InputOrInternal, InvalidField, Reason, Refused,
    RichDetails, RpcError, Throttled, check_documented, check_error_documented, internal_error,
    reason_of, respond, status_of, status_with_details, status_with_reason,
};
pub use guard::Guard;
pub use limits::Limits;
pub use tls::{GrpcTls, install_crypto_provider};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The health service's name for "the server as a whole".
const WHOLE_SERVER: &str = "";

/// Binds the listen address; `127.0.0.1:0` picks a free port (tests).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on GRPC_ADDR {addr}"))
}

/// A gRPC server under construction: add the service's own gRPC services,
/// then [`GrpcServer::serve`].
pub struct GrpcServer {
    routes: RoutesBuilder,
    health_reporter: HealthReporter,
    service_names: Vec<&'static str>,
    tls: Option<tonic::transport::ServerTlsConfig>,
    guard: Guard,
    limits: Limits,
    metrics: crate::metrics::grpc::GrpcMetricsLayer,
}

impl GrpcServer {
    /// A server with health and reflection that admits calls by `guard`
    /// within `limits`; reflection lists what [`GrpcServer::add_service`]
    /// added, besides health and reflection.
    pub fn new(guard: Guard, limits: Limits) -> anyhow::Result<Self> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        Ok(Self {
            routes,
            health_reporter,
            service_names: Vec::new(),
            tls: None,
            guard,
            limits,
            metrics: crate::metrics::grpc::GrpcMetricsLayer::new(
                &crate::metrics::Metrics::disabled(),
            ),
        })
    }

    /// Counts and times every call into `metrics` (the `grpc_server_*`
    /// families), refused and shed calls included.
    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = crate::metrics::grpc::GrpcMetricsLayer::new(metrics);
        self
    }

    /// Adds a gRPC service; health reports it SERVING while the server runs.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.service_names.push(S::NAME);
        self
    }

    /// Serves TLS with `tls` (plain text when `None`).
    pub fn with_tls(mut self, tls: Option<tonic::transport::ServerTlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// The health reporter, for a service that wants to report its own
    /// dependencies (for example NOT_SERVING while the database is down).
    pub fn health_reporter(&self) -> HealthReporter {
        self.health_reporter.clone()
    }

    /// Serves on `listener` until `shutdown` resolves. Then health turns
    /// NOT_SERVING, the listener closes, and in-flight calls get `grace` to
    /// finish. After `grace` this returns even if calls are still running;
    /// they end when the process exits.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let local_addr = listener.local_addr().ok();
        let reporter = self.health_reporter.clone();
        let names = self.service_names.clone();
        set_status(&reporter, &names, ServingStatus::Serving).await;

        let stop_accepting = CancellationToken::new();
        let stop_signal = stop_accepting.clone();
        tokio::spawn(async move {
            shutdown.await;
            // Load balancers and `grpc_health_probe` see NOT_SERVING before
            // the listener goes away.
            set_status(&reporter, &names, ServingStatus::NotServing).await;
            stop_signal.cancel();
        });

        let tls_on = self.tls.is_some();
        let (reflection_v1, reflection_v1alpha) = reflection(&self.service_names)?;
        self.routes
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = self.tls {
            builder = builder
                .tls_config(tls)
                .context("GRPC_TLS_CERT_FILE / GRPC_TLS_KEY_FILE: unusable TLS settings")?;
        }
        let limits = self.limits.clone();
        let layers = tower::ServiceBuilder::new()
            .map_response(error_kind::fill_in_error_details)
            .layer(self.metrics)
            .layer(tower_http::trace::TraceLayer::new_for_grpc().make_span_with(request_span))
            .layer(request_check::CheckLayer::new(self.guard))
            .map_result(limits::shed_to_status)
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                limits.max_concurrent_requests,
            ))
            .layer(request_check::CheckLayer::new(limits.clone()));
        let server = builder
            .max_concurrent_streams(Some(limits.max_concurrent_streams))
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .layer(layers)
            .add_routes(self.routes.routes())
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(listener),
                stop_accepting.clone().cancelled_owned(),
            );
        tracing::info!(addr = ?local_addr, tls = tls_on, "grpc server listening");

        let grace_expired = async {
            stop_accepting.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.context("grpc server failed")?,
            () = grace_expired => {
                tracing::warn!(grace_seconds = grace.as_secs(), "in-flight grpc calls did not finish in time, cutting them");
            }
        }
        tracing::info!("grpc server stopped");
        Ok(())
    }
}

/// The services every Candor port serves besides its own.
pub const HEALTH_AND_REFLECTION: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Reflection (v1 and v1alpha, so `grpcurl` and older clients work) that
/// lists exactly what this port serves: `served`, health and reflection.
/// Every Candor contract stays resolvable by symbol (a caller may follow a
/// type into a shared file), but a service is listed only where it answers.
fn reflection(
    served: &[&'static str],
) -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let configure = || {
        served.iter().copied().chain(HEALTH_AND_REFLECTION).fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(candor_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                // google.rpc's error details, so grpcurl can print them.
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                )
                .include_reflection_service(false),
            |builder, name| builder.with_service_name(name),
        )
    };
    let v1 = configure()
        .build_v1()
        .context("building the gRPC reflection service (v1)")?;
    let v1alpha = configure()
        .build_v1alpha()
        .context("building the gRPC reflection service (v1alpha)")?;
    Ok((v1, v1alpha))
}

async fn set_status(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    reporter.set_service_status(WHOLE_SERVER, status).await;
    for name in names {
        reporter.set_service_status(*name, status).await;
    }
}

/// The server span of one call, a child of the caller's span when the call
/// carries a W3C `traceparent`.
fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    let span = tracing::info_span!(
        "grpc.request",
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = %request.uri().path(),
    );
    let parent = crate::telemetry::extract_from_http_headers(request.headers());
    if let Err(error) = span.set_parent(parent) {
        tracing::debug!(%error, "cannot attach caller trace context");
    }
    span
}

/// A channel to another Candor service (see [`GrpcTls::client_channel`])
/// with no TLS settings of its own: `https://` URLs are verified against
/// the system's roots. Services use their [`GrpcTls`] instead.
pub fn client_channel(url: &str) -> anyhow::Result<tonic::transport::Channel> {
    GrpcTls::system_roots().client_channel(url)
}

/// Like [`client_channel`] without a deadline per call.
pub fn streaming_client_channel(url: &str) -> anyhow::Result<tonic::transport::Channel> {
    GrpcTls::system_roots().streaming_client_channel(url)
}

fn plain_endpoint(url: &str) -> anyhow::Result<tonic::transport::Endpoint> {
    Ok(tonic::transport::Channel::from_shared(url.to_owned())
        .with_context(|| format!("{url} is not a valid gRPC URL"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true))
}
