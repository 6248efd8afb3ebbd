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

/// The `grpc-timeout` codec is candor-client's, shared by every caller.
pub use candor_client::grpc_timeout::{encode as encode_grpc_timeout, parse as parse_grpc_timeout};

#[cfg(test)]
mod tests {
    use super::*;

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
