//! Waiting in tests for something that happens asynchronously (a message
//! consumed, a row written, an email sent), without sleeping a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] asks again.
const INTERVAL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some` and returns that value; panics
/// after `timeout` with "timed out waiting for {what}".
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(INTERVAL).await;
    }
}
