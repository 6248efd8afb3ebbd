//! How often and how patiently a call that met UNAVAILABLE is sent again.

use std::time::Duration;

/// Retries of idempotent calls ([`crate::idempotency`]) that failed with
/// UNAVAILABLE, or whose connection could not be made. Never past the
/// call's deadline; never a client stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry).
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles each time.
    pub initial_backoff: Duration,
    /// The longest wait between attempts (unless the service's RetryInfo
    /// asks for longer).
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Every call is sent once.
    pub const NEVER: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };
}

impl Default for RetryPolicy {
    /// Three attempts, waiting about 100 ms then 200 ms: enough to ride out
    /// a restarting replica or a dropped connection, short enough that a
    /// real outage is reported quickly.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// The waits of one call's retries: exponential, each jittered to between
/// half and all of it so that many clients cut off by the same outage do
/// not come back in lockstep.
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        Self {
            next: policy.initial_backoff,
            max: policy.max_backoff,
        }
    }

    /// The wait before the next attempt: the jittered backoff, or `asked`
    /// (the service's RetryInfo) when that is longer.
    pub(crate) fn next_delay(&mut self, asked: Option<Duration>) -> Duration {
        let full = self.next.min(self.max);
        self.next = (self.next * 2).min(self.max);
        let jittered = full.mul_f64(rand::random_range(0.5..=1.0));
        asked.map_or(jittered, |asked| asked.max(jittered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_ceiling_and_honour_a_longer_ask() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        let mut backoff = Backoff::new(&policy);
        let first = backoff.next_delay(None);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let second = backoff.next_delay(None);
        assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        let third = backoff.next_delay(None);
        assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }
}
