//! Candor watched by a real Prometheus: the in-process stack scraped with
//! the repository's own scrape configuration and alerting rules, a breach
//! driven through it, and what an operator would see checked through
//! Prometheus' query and alerts API. Needs `prometheus` on the PATH
//! (`apt-get install prometheus`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod prometheus;
mod watched_breach;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it gives `Ok`; after `timeout` fails naming `what`
/// and the last reason `check` gave.
async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(reason) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}: {reason}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
