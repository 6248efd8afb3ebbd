//! Server limits beyond what the HTTP/2 settings bound: a time limit per
//! call (longer for client streams) and a global concurrency limit that
//! sheds load with RESOURCE_EXHAUSTED instead of queueing.

use std::time::Duration;

use tokio::time::Instant;

use futures::future::BoxFuture;
use tonic::Status;
use tonic::body::Body;
use tower::ServiceExt as _;

use super::deadline;
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
        Err(error) if error.is::<tower::load_shed::error::Overloaded>() => {
            super::error_kind::status_with_reason(
                tonic::Code::ResourceExhausted,
                "the server is at its limit of concurrent calls (GRPC_MAX_CONCURRENT_REQUESTS); retry with backoff",
                super::error_kind::Reason::SERVER_OVERLOADED,
            )
            .into_http()
        }
        Err(error) => Status::from_error(error).into_http(),
    })
}

/// Cuts a call that has not answered by its deadline with
/// DEADLINE_EXCEEDED ([`crate::grpc::GrpcServer`] adds the limits as a
/// [`super::request_check::CheckLayer`]). The deadline is the earlier of the
/// caller's (`grpc-timeout`) and the server's own limit; the handler runs
/// under it ([`super::deadline`]), so calls it makes to other services get
/// only what is left.
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
        let caller = request
            .headers()
            .get(deadline::GRPC_TIMEOUT)
            .and_then(|value| value.to_str().ok())
            .and_then(deadline::parse_grpc_timeout);
        let cut = match caller {
            Some(caller) if caller < limit => Cut::CallerDeadline(caller),
            _ => Cut::ServerLimit { limit, setting },
        };
        let arrived = Instant::now();
        let deadline = arrived + cut.after();
        let call = deadline::serve_within(deadline, inner.oneshot(request));
        Box::pin(async move {
            // A millisecond early: tonic's own grpc-timeout timer (outside
            // this layer) would otherwise answer CANCELLED at the same
            // instant; the caller's clock started before ours anyway.
            let cut_at = deadline
                .checked_sub(Duration::from_millis(1))
                .unwrap_or(deadline)
                .max(arrived);
            match tokio::time::timeout_at(cut_at, call).await {
                Ok(result) => result,
                Err(_) => Ok(cut.status().into_http()),
            }
        })
    }
}

/// Whose deadline cut a call.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The caller's `grpc-timeout`, shorter than the server's limit.
    CallerDeadline(Duration),
    /// The server's own limit, named by its setting.
    ServerLimit {
        limit: Duration,
        setting: &'static str,
    },
}

impl Cut {
    fn after(self) -> Duration {
        match self {
            Cut::CallerDeadline(timeout) => timeout,
            Cut::ServerLimit { limit, .. } => limit,
        }
    }

    fn status(self) -> Status {
        match self {
            Cut::CallerDeadline(timeout) => super::error_kind::status_with_reason(
                tonic::Code::DeadlineExceeded,
                format!(
                    "the call did not finish within the caller's deadline ({} ms)",
                    timeout.as_millis()
                ),
                super::error_kind::Reason::CALLER_DEADLINE_EXCEEDED,
            ),
            Cut::ServerLimit { limit, setting } => super::error_kind::status_with_reason(
                tonic::Code::DeadlineExceeded,
                format!(
                    "the call did not finish within the server's time limit ({setting}={})",
                    limit.as_secs()
                ),
                super::error_kind::Reason::SERVER_TIME_LIMIT,
            ),
        }
    }
}
