//! When a job that failed transiently is tried again.

use std::time::Duration;

use rand::Rng as _;

/// Exponential backoff with jitter: after attempt `n` (1-based) the delay is
/// drawn from [d/2, d] where d = initial × 2^(n−1), capped at `max`.
pub fn retry_delay(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let exponent = attempts.saturating_sub(1).min(32);
    let full = initial
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(max);
    let half = full / 2;
    let jitter_range = full.saturating_sub(half).as_millis().max(1);
    let jitter = rand::rng().random_range(0..=u64::try_from(jitter_range).unwrap_or(u64::MAX));
    half + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_the_jitter_band_and_stop_at_the_cap() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(10);
        for (attempts, full_ms) in [(1, 100), (2, 200), (3, 400), (8, 10_000), (40, 10_000)] {
            for _ in 0..50 {
                let delay = retry_delay(attempts, initial, max).as_millis();
                assert!(
                    delay >= full_ms / 2 && delay <= full_ms + 1,
                    "{attempts}: {delay}"
                );
            }
        }
    }
}
