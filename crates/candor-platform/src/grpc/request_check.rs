//! One tower layer for the server's own checks of each call (the permission
//! guard, the time limit): a [`RequestCheck`] sees the request before the
//! inner service and either answers it itself or calls the inner service,
//! wrapping its future.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;

/// A check of every call, before the inner service.
pub trait RequestCheck: Send + Sync + 'static {
    /// Answers `request`, or passes it to `inner` (with
    /// `tower::ServiceExt::oneshot`, so `inner` is made ready only for calls
    /// that get that far).
    fn handle<S>(
        &self,
        request: http::Request<Body>,
        inner: S,
    ) -> BoxFuture<'static, Result<http::Response<Body>, S::Error>>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static;
}

/// The layer running `C` before the rest of the stack.
#[derive(Debug)]
pub struct CheckLayer<C> {
    check: Arc<C>,
}

impl<C> CheckLayer<C> {
    pub fn new(check: C) -> Self {
        Self {
            check: Arc::new(check),
        }
    }
}

impl<C> Clone for CheckLayer<C> {
    fn clone(&self) -> Self {
        Self {
            check: self.check.clone(),
        }
    }
}

impl<C, S> tower::Layer<S> for CheckLayer<C> {
    type Service = Checked<C, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Checked {
            check: self.check.clone(),
            inner,
        }
    }
}

/// See [`CheckLayer`].
#[derive(Debug)]
pub struct Checked<C, S> {
    check: Arc<C>,
    inner: S,
}

impl<C, S: Clone> Clone for Checked<C, S> {
    fn clone(&self) -> Self {
        Self {
            check: self.check.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<C, S> tower::Service<http::Request<Body>> for Checked<C, S>
where
    C: RequestCheck,
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

    /// Always ready: the inner service is made ready only for the calls the
    /// check passes on, so a refused call takes no concurrency permit.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.check.handle(request, self.inner.clone())
    }
}
