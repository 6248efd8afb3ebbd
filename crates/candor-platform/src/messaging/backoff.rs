//! Capped, jittered exponential backoff shared by reconnects, handler retries
//! and the outbox relay.

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
        let millis = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(1);
        let jittered = rand::rng().random_range(millis / 2..=millis);
        Duration::from_millis(jittered)
    }

    /// Starts over from the initial delay, after a success.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
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
}
