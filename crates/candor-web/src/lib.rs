//! candor-web: Candor's reference web front end, the public pages the
//! emails and the forum link to (`candor_platform::links`): password reset,
//! deactivation, sign-in with a forced password change, security notices,
//! and the forum's threads. Server-rendered HTML, no script; every form is
//! CSRF-protected; it talks to the account and forum services over gRPC as
//! the `frontend` caller, forwarding the member's session.
//!
//! [`App::build`] binds `WEB_ADDR` and [`App::run_until`] serves until the
//! shutdown future resolves; `main.rs` and the tests both go through here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

mod backend;
mod browser;
mod config;
mod errors;
pub mod health;
mod render;
mod routes;
mod security;

pub use config::Config;
pub use security::headers::CONTENT_SECURITY_POLICY_VALUE;

/// The binary's name, also the service name in logs and traces.
pub const BINARY_NAME: &str = "candor-web";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    backend: backend::Backend,
    csrf: security::csrf::CsrfKey,
}

/// A started candor-web, ready to serve.
pub struct App {
    listener: TcpListener,
    router: Router,
    grace: Duration,
    stopping: Arc<AtomicBool>,
}

impl App {
    /// Checks the settings, makes the service channels (connected lazily)
    /// and binds `WEB_ADDR`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let state = AppState {
            backend: backend::Backend::new(&config)?,
            csrf: security::csrf::CsrfKey::new(&config.web_cookie_key),
        };
        let stopping = Arc::new(AtomicBool::new(false));
        let router = router(state, stopping.clone());
        let listener = TcpListener::bind(config.web_addr)
            .await
            .with_context(|| format!("cannot listen on WEB_ADDR {}", config.web_addr))?;
        tracing::info!(addr = ?listener.local_addr().ok(), "started");
        Ok(Self {
            listener,
            router,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            stopping,
        })
    }

    /// Where the server listens (the real port after `:0`).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the WEB_ADDR listener address")
    }

    /// Serves until `shutdown`, then stops accepting connections, answers
    /// `/healthz` 503, and gives requests in flight the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let trigger = stop.clone();
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopping.store(true, Ordering::SeqCst);
            trigger.cancel();
        });
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop.clone().cancelled_owned());
        let grace = self.grace;
        tokio::select! {
            served = serve => served.context("the HTTP server failed"),
            () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!("requests did not finish within the grace period");
                Ok(())
            }
        }
    }
}

/// Every route, with the CSRF check, the security headers and request
/// logging around them.
fn router(state: AppState, stopping: Arc<AtomicBool>) -> Router {
    let csrf = state.csrf.clone();
    routes::routes()
        .route("/healthz", get(move || health::healthz(stopping.clone())))
        .route("/static/site.css", get(stylesheet))
        .fallback(|| async { errors::PageError::NotFound })
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            csrf,
            security::csrf::require_token,
        ))
        .layer(DefaultBodyLimit::max(security::csrf::MAX_FORM_BYTES))
        .layer(middleware::from_fn(security::headers::add_security_headers))
        .layer(middleware::from_fn(log_request))
}

async fn stylesheet() -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/site.css"),
    )
        .into_response()
}

/// One span per request, logged with the path only: the query string of
/// the emailed links carries tokens, and is never logged.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("http", %method, path = %path);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                took_ms = started.elapsed().as_millis() as u64,
                "request"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                took_ms = started.elapsed().as_millis() as u64,
                "request"
            );
        }
    });
    response
}
