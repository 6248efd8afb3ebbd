//! The metrics endpoint: `GET /metrics` in the Prometheus text format, on a
//! listener of its own so scraping never competes with gRPC's limits.

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// The content type of the classic text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `metrics` on `listener` until `stop` is cancelled.
pub async fn serve(
    metrics: Metrics,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener.local_addr().ok();
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics);
    tracing::info!(addr = ?addr, "metrics endpoint listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .context("metrics endpoint failed")
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    match metrics.render().await {
        Ok(text) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cannot render the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot render the metrics\n",
            )
                .into_response()
        }
    }
}
