//! The `grpc-timeout` header: how a gRPC caller tells the server (and every
//! proxy on the way) when it stops waiting. The format is the gRPC over
//! HTTP/2 specification's: at most 8 digits and a unit (H, M, S, m, u, n).

use std::time::Duration;

/// The header's name.
pub const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// A `grpc-timeout` value as a duration; `None` for anything the
/// specification does not allow.
pub fn parse(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// `timeout` as a `grpc-timeout` value, in the finest unit that fits in 8
/// digits, rounded up so it is never sent as zero.
pub fn encode(timeout: Duration) -> http::HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos().max(1);
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let (amount, unit) = units
        .iter()
        .map(|&(size, unit)| (nanos.div_ceil(size), unit))
        .find(|&(amount, _)| amount <= MAX)
        .unwrap_or((MAX, 'H'));
    http::HeaderValue::try_from(format!("{amount}{unit}"))
        .unwrap_or_else(|_| http::HeaderValue::from_static("99999999H"))
}

/// The timeout `headers` ask for, if any (an unreadable value counts as
/// none, as servers treat it).
pub fn of(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(GRPC_TIMEOUT)
        .and_then(|value| value.to_str().ok())
        .and_then(parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_specification_and_round_trip() {
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        for bad in ["", "m", "100", "123456789m", "-1S", "1.5S", "10s"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        for timeout in [
            Duration::from_nanos(1),
            Duration::from_millis(300),
            Duration::from_secs(3 * 24 * 3600),
        ] {
            let value = encode(timeout);
            let parsed = parse(value.to_str().unwrap()).unwrap();
            assert!(parsed >= timeout, "{timeout:?} sent as {value:?}");
        }
        assert_eq!(encode(Duration::ZERO), "1n");
    }
}
