//! Capped, jittered exponential backoff, the one every retry in the
//! workspace uses: reconnects, handler retries, the outbox relay, the
//! notification sender's job retries and outcome writes, and the account
//! service's SendEmail calls.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: each delay doubles up to `max`, and is jittered to
/// between half and all of its value so that many replicas that lost the
/// broker at the same moment do not reconnect in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `initial` (at least 1 ms) and doubles up to `max` (at least
    /// `initial`).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        let max = max.max(initial);
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay to wait now; the one after it is twice as long (capped).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        jittered(base)
    }

    /// The delay after the `attempts`-th failed attempt (1-based), what the
    /// `attempts`-th [`Backoff::next_delay`] returns, for retries whose count
    /// is stored rather than kept here (a notification job's attempts).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(32);
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max);
        jittered(base)
    }

    /// Starts over from the initial delay, after a success.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Between half and all of `base`, in whole milliseconds (at least 1 ms).
fn jittered(base: Duration) -> Duration {
    let millis = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1_000));
        let delays: Vec<Duration> = (0..8).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(
            delays
                .iter()
                .all(|delay| *delay <= Duration::from_millis(1_000))
        );
        assert!(delays[7] >= Duration::from_millis(500));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn delays_after_an_attempt_count_grow_exponentially_within_the_jitter_band_and_stop_at_the_cap()
    {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        for (attempts, full_ms) in [
            (0, 100),
            (1, 100),
            (2, 200),
            (3, 400),
            (8, 10_000),
            (40, 10_000),
        ] {
            for _ in 0..50 {
                let delay = backoff.delay_after(attempts).as_millis();
                assert!(
                    delay >= full_ms / 2 && delay <= full_ms,
                    "{attempts}: {delay}"
                );
            }
        }
    }
}
