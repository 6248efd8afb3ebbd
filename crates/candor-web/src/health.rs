//! `GET /healthz`: 200 while serving, 503 once shutting down; and the
//! `candor-web health URL` check the container image runs (the image has
//! no curl), a plain HTTP/1.1 GET.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::response::IntoResponse;
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Answers the health probe.
pub async fn healthz(stopping: Arc<AtomicBool>) -> impl IntoResponse {
    if stopping.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

/// GETs `/healthz` at `addr` (`host:port`) and succeeds on 200.
pub async fn check(addr: &str) -> anyhow::Result<()> {
    let work = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream
            .write_all(
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        let answer = String::from_utf8_lossy(&answer);
        let status_line = answer.lines().next().unwrap_or_default();
        anyhow::ensure!(
            status_line.split_whitespace().nth(1) == Some("200"),
            "{addr} answered {status_line:?}"
        );
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .context("no answer within 5 s")?
}
