//! Server limits beyond what the HTTP/2 settings bound: a time limit per
//! call (longer for client streams) and a global concurrency limit that
//! sheds load with RESOURCE_EXHAUSTED instead of queueing.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tonic::Status;
use tonic::body::Body;
use tower::ServiceExt as _;

use crate::auth::permissions::permission_of;
use crate::config::ServerConfig;

/// The limits of one server, from [`ServerConfig`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// A unary (or server-streaming) call's time to its response.
    pub request_timeout: Duration,
    /// A client-streaming call's time to its response.
    pub stream_timeout: Duration,
    /// Calls the server runs at once.
    pub max_concurrent_requests: usize,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// HTTP/2 keepalive ping interval.
    pub keepalive_interval: Duration,
}

impl Limits {
    pub fn from_config(config: &ServerConfig) -> Self {
        Self {
            request_timeout: Duration::from_secs(config.grpc_request_timeout_seconds),
            stream_timeout: Duration::from_secs(config.grpc_stream_timeout_seconds),
            max_concurrent_requests: config.grpc_max_concurrent_requests as usize,
            max_concurrent_streams: config.grpc_max_concurrent_streams,
            keepalive_interval: Duration::from_secs(config.grpc_http2_keepalive_seconds),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_config(&ServerConfig::default())
    }
}

/// Turns tower's `Overloaded` (from load shedding) into a gRPC
/// RESOURCE_EXHAUSTED answer, and any other layer error into its status,
/// so the client sees a status rather than a broken stream.
pub fn shed_to_status(
    result: Result<http::Response<Body>, tower::BoxError>,
) -> Result<http::Response<Body>, tower::BoxError> {
    Ok(match result {
        Ok(response) => response,
        Err(error) if error.is::<tower::load_shed::error::Overloaded>() => Status::resource_exhausted(
            "the server is at its limit of concurrent calls (GRPC_MAX_CONCURRENT_REQUESTS); retry with backoff",
        )
        .into_http(),
        Err(error) => Status::from_error(error).into_http(),
    })
}

/// Cuts a call that has not answered within its time limit with
/// DEADLINE_EXCEEDED.
#[derive(Debug, Clone)]
pub struct DeadlineLayer {
    limits: Arc<Limits>,
}

impl DeadlineLayer {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits: Arc::new(limits),
        }
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            limits: self.limits.clone(),
            inner,
        }
    }
}

/// See [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    limits: Arc<Limits>,
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for Deadline<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let streaming = permission_of(request.uri().path())
            .is_some_and(|permission| permission.client_streaming);
        let (limit, setting) = if streaming {
            (self.limits.stream_timeout, "GRPC_STREAM_TIMEOUT_SECONDS")
        } else {
            (self.limits.request_timeout, "GRPC_REQUEST_TIMEOUT_SECONDS")
        };
        let call = self.inner.clone().oneshot(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "the call did not finish within the server's time limit ({setting}={})",
                    limit.as_secs()
                ))
                .into_http()),
            }
        })
    }
}
