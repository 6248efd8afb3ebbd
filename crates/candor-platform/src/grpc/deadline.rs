//! The deadline of the call being served, and passing what is left of it to
//! the services this one calls.
//!
//! A caller states its deadline in the `grpc-timeout` header (tonic's
//! `Request::set_timeout`, grpcurl's `-max-time`, every gRPC library's
//! deadline). The server's [`super::Limits`] layer takes the earlier of that
//! and its own limit (`GRPC_REQUEST_TIMEOUT_SECONDS`), answers
//! DEADLINE_EXCEEDED when it passes, and runs the handler inside
//! [`serve_within`], so code anywhere in the handler can ask
//! [`remaining`]. A call to another service made from the handler sends
//! [`propagate`]'s `grpc-timeout`: what is left, never more than the call
//! would have had anyway. Work a handler spawns (a background retry) has no
//! caller waiting and so no caller deadline.

use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The `grpc-timeout` header.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Runs `call` with `deadline` as the deadline [`remaining`] reports.
pub async fn serve_within<F: Future>(deadline: Instant, call: F) -> F::Output {
    DEADLINE.scope(deadline, call).await
}

/// What is left of the deadline of the call being served; `None` outside a
/// served call (a consumer, a background task).
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// The time a call to another service may take: the earlier of `own`
/// (the calling client's own per-call limit, if any) and what is left of
/// the call being served. `None` when neither bounds it.
pub fn outgoing_timeout(own: Option<Duration>) -> Option<Duration> {
    match (own, remaining()) {
        (Some(own), Some(left)) => Some(own.min(left)),
        (own, left) => own.or(left),
    }
}

/// Sets `grpc-timeout` on an outgoing call's headers to
/// [`outgoing_timeout`] of what they already ask; DEADLINE_EXCEEDED when
/// the call being served has no time left (the call is not made).
pub fn propagate(headers: &mut http::HeaderMap) -> Result<(), tonic::Status> {
    let own = headers
        .get(GRPC_TIMEOUT)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout);
    let Some(timeout) = outgoing_timeout(own) else {
        return Ok(());
    };
    if timeout.is_zero() {
        return Err(tonic::Status::deadline_exceeded(
            "the caller's deadline passed before this service could call the next one",
        ));
    }
    headers.insert(GRPC_TIMEOUT, encode_grpc_timeout(timeout));
    Ok(())
}

/// A `grpc-timeout` value: at most 8 digits and a unit (H, M, S, m, u, n),
/// as the gRPC over HTTP/2 specification has it. `None` for anything else.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
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

/// `timeout` as a `grpc-timeout` value, rounded up to the finest unit that
/// fits in 8 digits (so a deadline is never sent as longer than it is by
/// more than the unit, and never as zero).
pub fn encode_grpc_timeout(timeout: Duration) -> http::HeaderValue {
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
    // Digits and a unit letter are always a valid header value.
    http::HeaderValue::from_str(&format!("{amount}{unit}"))
        .unwrap_or(http::HeaderValue::from_static("99999999H"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_values_follow_the_specification() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "m", "100", "123456789m", "-1S", "1.5S", "10s", "1 S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encoding_rounds_up_and_round_trips() {
        for timeout in [
            Duration::from_nanos(1),
            Duration::from_millis(250),
            Duration::from_secs(30),
            Duration::from_secs(3 * 24 * 3600),
            Duration::from_nanos(123_456_789_123),
        ] {
            let value = encode_grpc_timeout(timeout);
            let parsed = parse_grpc_timeout(value.to_str().unwrap()).unwrap();
            assert!(parsed >= timeout, "{timeout:?} sent as {value:?}");
            assert!(value.len() <= 9, "{value:?}");
        }
        assert_eq!(encode_grpc_timeout(Duration::ZERO), "1n");
        assert_eq!(encode_grpc_timeout(Duration::from_millis(250)), "250000u");
    }

    #[tokio::test]
    async fn outside_a_served_call_nothing_bounds_a_call() {
        assert_eq!(remaining(), None);
        assert_eq!(outgoing_timeout(None), None);
        let own = Some(Duration::from_secs(5));
        assert_eq!(outgoing_timeout(own), own);
        let mut headers = http::HeaderMap::new();
        propagate(&mut headers).unwrap();
        assert!(headers.get(GRPC_TIMEOUT).is_none());
    }

    fn header(headers: &http::HeaderMap) -> Duration {
        parse_grpc_timeout(headers[GRPC_TIMEOUT].to_str().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_served_call_passes_on_what_is_left_and_never_more() {
        let deadline = Instant::now() + Duration::from_millis(800);
        serve_within(deadline, async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let left = remaining().unwrap();
            assert!(left <= Duration::from_millis(500), "{left:?}");
            // The client's own 30 s limit is cut to what is left.
            let mut headers = http::HeaderMap::new();
            headers.insert(GRPC_TIMEOUT, "30S".parse().unwrap());
            propagate(&mut headers).unwrap();
            let sent = header(&headers);
            assert!(
                sent <= Duration::from_millis(500) && sent > Duration::ZERO,
                "{sent:?}"
            );
            // A shorter own limit stays.
            headers.insert(GRPC_TIMEOUT, "100m".parse().unwrap());
            propagate(&mut headers).unwrap();
            assert_eq!(headers[GRPC_TIMEOUT], "100000u");
            // No own limit: what is left.
            let mut headers = http::HeaderMap::new();
            propagate(&mut headers).unwrap();
            let sent = header(&headers);
            assert!(
                sent <= Duration::from_millis(500) && sent > Duration::ZERO,
                "{sent:?}"
            );

            tokio::time::sleep_until(deadline).await;
            assert_eq!(remaining(), Some(Duration::ZERO));
            let status = propagate(&mut http::HeaderMap::new()).unwrap_err();
            assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        })
        .await;
        // A task spawned from the call does not inherit its deadline.
        serve_within(Instant::now(), async {
            let spawned = tokio::spawn(async { remaining() }).await.unwrap();
            assert_eq!(spawned, None);
        })
        .await;
    }
}
