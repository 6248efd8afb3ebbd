//! Server limits beyond what the HTTP/2 settings bound: a time limit per
//! call (longer for client streams) and a global concurrency limit that
//! sheds load with RESOURCE_EXHAUSTED instead of queueing.

use std::time::Duration;

use futures::future::BoxFuture;
use tonic::Status;
use tonic::body::Body;
use tower::ServiceExt as _;

use super::request_check::RequestCheck;
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
/// DEADLINE_EXCEEDED ([`crate::grpc::GrpcServer`] adds the limits as a
/// [`super::request_check::CheckLayer`]).
impl RequestCheck for Limits {
    fn handle<S>(
        &self,
        request: http::Request<Body>,
        inner: S,
    ) -> BoxFuture<'static, Result<http::Response<Body>, S::Error>>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let streaming = permission_of(request.uri().path())
            .is_some_and(|permission| permission.client_streaming);
        let (limit, setting) = if streaming {
            (self.stream_timeout, "GRPC_STREAM_TIMEOUT_SECONDS")
        } else {
            (self.request_timeout, "GRPC_REQUEST_TIMEOUT_SECONDS")
        };
        let call = inner.oneshot(request);
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
