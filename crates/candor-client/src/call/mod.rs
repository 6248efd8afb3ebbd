//! One call on a [`Connection`]: the credential and deadline set, the
//! deadline kept on this side too, and an idempotent call sent again when
//! the service is UNAVAILABLE.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio::time::Instant;
use tonic::body::Body;
use tower::ServiceExt as _;

use crate::connection::Connection;
use crate::grpc_timeout;
use crate::idempotency::idempotency;
use crate::member::MemberSession;
use crate::retry::Backoff;

/// The metadata key a caller puts its own credential in when
/// `authorization` carries a member's session it forwards.
pub const CALLER_AUTHORIZATION: http::HeaderName =
    http::HeaderName::from_static("x-caller-authorization");

type CallFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, tonic::Status>> + Send>>;

impl tower::Service<http::Request<Body>> for Connection {
    type Response = http::Response<Body>;
    type Error = tonic::Status;
    type Future = CallFuture;

    /// Always ready: each call waits for the shared channel itself.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // Before the future: the hook reads the caller's span and the
        // deadline of the call it serves, both of the calling task.
        if let Err(status) = self.prepare(&mut request) {
            return Box::pin(std::future::ready(Err(status)));
        }
        let connection = self.clone();
        Box::pin(async move { connection.send(request).await })
    }
}

impl Connection {
    /// Sets the credential, the default deadline, then runs the hook.
    fn prepare(&self, request: &mut http::Request<Body>) -> Result<(), tonic::Status> {
        let forwards_member = request.extensions().get::<MemberSession>().is_some();
        let headers = request.headers_mut();
        if let Some(own) = &self.settings.authorization {
            let key = if forwards_member {
                CALLER_AUTHORIZATION
            } else {
                http::header::AUTHORIZATION
            };
            if !headers.contains_key(&key) {
                headers.insert(key, own.clone());
            }
        }
        if let Some(deadline) = self.settings.default_deadline
            && !headers.contains_key(grpc_timeout::GRPC_TIMEOUT)
        {
            headers.insert(grpc_timeout::GRPC_TIMEOUT, grpc_timeout::encode(deadline));
        }
        if let Some(hook) = &self.settings.hook {
            hook(headers)?;
        }
        Ok(())
    }

    async fn send(
        self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, tonic::Status> {
        let deadline = grpc_timeout::of(request.headers()).map(|timeout| Instant::now() + timeout);
        let retry = self.settings.retry;
        if retry.max_attempts <= 1 || !idempotency(request.uri().path()).may_retry() {
            return self.attempt(request, deadline).await;
        }
        // A unary request is one small message: keep it to send again.
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        let mut backoff = Backoff::new(&retry);
        let mut attempt = 1;
        loop {
            let request = rebuild(&parts, body.clone(), deadline)?;
            let outcome = self.attempt(request, deadline).await;
            let Some(unavailable) = unavailable(&outcome) else {
                return outcome;
            };
            if attempt >= retry.max_attempts {
                return outcome;
            }
            let delay = backoff.next_delay(retry_delay(&unavailable));
            if deadline.is_some_and(|deadline| Instant::now() + delay >= deadline) {
                return outcome;
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt, answered DEADLINE_EXCEEDED when the deadline passes
    /// first (tonic's own timer would say CANCELLED "Timeout expired").
    async fn attempt(
        &self,
        request: http::Request<Body>,
        deadline: Option<Instant>,
    ) -> Result<http::Response<Body>, tonic::Status> {
        let call = self.channel.clone().oneshot(request);
        let result = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, call).await {
                Ok(result) => result,
                Err(_) => return Err(deadline_exceeded()),
            },
            None => call.await,
        };
        result.map_err(|error| {
            let timed_out =
                deadline.is_some_and(|deadline| Instant::now() >= deadline) || is_timeout(&error);
            if timed_out {
                deadline_exceeded()
            } else {
                transport_failure(tonic::Status::from_error(Box::new(error)))
            }
        })
    }
}

fn deadline_exceeded() -> tonic::Status {
    tonic::Status::deadline_exceeded("the call's deadline passed before the service answered")
}

/// A call the channel could not carry (the connection refused, or closed
/// before the answer) as the gRPC specification has it: UNAVAILABLE. tonic
/// says CANCELLED for a connection closed under a call, which no one
/// cancelled, and which is as retryable as a refused connection.
fn transport_failure(status: tonic::Status) -> tonic::Status {
    match status.code() {
        tonic::Code::Cancelled | tonic::Code::Unknown => tonic::Status::unavailable(format!(
            "the connection to the service failed: {}",
            status.message()
        )),
        _ => status,
    }
}

/// True when tonic's channel gave up on the call's `grpc-timeout`.
fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// The UNAVAILABLE status of an attempt, if that is how it ended: a
/// connection that could not be made, or the service's own answer.
fn unavailable(outcome: &Result<http::Response<Body>, tonic::Status>) -> Option<tonic::Status> {
    let status = match outcome {
        Err(status) => status.clone(),
        // An error answer comes "trailers-only": its status in the headers.
        Ok(response) => tonic::Status::from_header_map(response.headers())?,
    };
    (status.code() == tonic::Code::Unavailable).then_some(status)
}

fn retry_delay(status: &tonic::Status) -> Option<std::time::Duration> {
    crate::ErrorDetails::of(status).retry_delay
}

/// The request again, its `grpc-timeout` cut to what is left.
fn rebuild(
    parts: &http::request::Parts,
    body: Bytes,
    deadline: Option<Instant>,
) -> Result<http::Request<Body>, tonic::Status> {
    let mut request = http::Request::new(Body::new(http_body_util::Full::new(body)));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(deadline_exceeded());
        }
        request
            .headers_mut()
            .insert(grpc_timeout::GRPC_TIMEOUT, grpc_timeout::encode(left));
    }
    Ok(request)
}

#[cfg(test)]
mod tests;
