//! The permission layer and the server limits against a served probe:
//! forwarded member calls, `x-forwarded-for` trust, authentication before
//! decoding, message size, time and concurrency limits.

use std::time::Duration;

use candor_platform::auth::{Caller, Identity};
use candor_platform::grpc::{Limits, reason_of};
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::membership::v1::{GetMembershipRequest, GrantCreditRequest};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

use super::grpc::{FORUM, FRONTEND, OPERATOR, start_with};

fn request<T>(message: T, metadata: &[(&'static str, String)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (key, value) in metadata {
        request.metadata_mut().insert(*key, value.parse().unwrap());
    }
    request
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn client(
    limits: Limits,
    max_message: usize,
    delay: Duration,
) -> (
    candor_testkit::service::RunningService,
    super::grpc::Probe,
    MembershipServiceClient<Channel>,
) {
    let (service, probe) =
        start_with(delay, Duration::from_secs(1), limits, max_message, None).await;
    let client = MembershipServiceClient::new(service.channel().await.unwrap());
    (service, probe, client)
}

#[tokio::test]
async fn member_calls_pass_to_the_handler_and_forwarding_callers_are_known() {
    let (service, probe, mut client) = client(Limits::default(), 1 << 20, Duration::ZERO).await;
    // A member session (a token that is no caller's) reaches the handler.
    client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[("authorization", bearer("some-member-session"))],
        ))
        .await
        .unwrap();
    // A front end forwarding a member's session, with its own credential aside.
    client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[
                ("authorization", bearer("some-member-session")),
                ("x-caller-authorization", bearer(FRONTEND)),
            ],
        ))
        .await
        .unwrap();
    let seen: Vec<Identity> = probe
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(identity, _)| *identity)
        .collect();
    assert_eq!(seen[0].caller, None);
    assert!(seen[0].member_session);
    assert_eq!(seen[1].caller, Some(Caller::FrontEnd));
    assert!(seen[1].member_session && seen[1].acting_caller().is_none());

    // An unknown forwarding credential is refused before the handler.
    let status = client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[
                ("authorization", bearer("some-member-session")),
                ("x-caller-authorization", bearer("not-a-known-caller-token")),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // A known caller acting in its own right where the row does not name it.
    let status = client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[("authorization", bearer(FORUM))],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(probe.seen.lock().unwrap().len(), 2);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_trusted_proxy_callers() {
    let (service, probe, mut client) = client(Limits::default(), 1 << 20, Duration::ZERO).await;
    let forwarded = ("x-forwarded-for", "203.0.113.9, 198.51.100.7".to_owned());
    for caller_token in [FRONTEND, FORUM] {
        client
            .get_membership(request(
                GetMembershipRequest::default(),
                &[
                    ("authorization", bearer("some-member-session")),
                    ("x-caller-authorization", bearer(caller_token)),
                    forwarded.clone(),
                ],
            ))
            .await
            .unwrap();
    }
    // A member calling directly cannot claim an address either.
    client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[("authorization", bearer("some-member-session")), forwarded],
        ))
        .await
        .unwrap();
    let addresses: Vec<String> = probe
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, address)| address.unwrap().to_string())
        .collect();
    assert_eq!(addresses, ["198.51.100.7", "127.0.0.1", "127.0.0.1"]);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn credentials_are_checked_before_a_too_large_body_is_decoded() {
    let (service, _, mut client) = client(Limits::default(), 1024, Duration::ZERO).await;
    let large = GrantCreditRequest {
        idempotency_key: "x".repeat(64 * 1024),
        ..GrantCreditRequest::default()
    };
    let status = client
        .grant_credit(request(
            large.clone(),
            &[("authorization", bearer("not-a-known-token"))],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = client
        .grant_credit(request(large, &[("authorization", bearer(OPERATOR))]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");
    // tonic answers this one itself; the server still adds the details.
    assert_eq!(reason_of(&status).as_deref(), Some("MESSAGE_TOO_LARGE"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_past_the_request_timeout_is_cut() {
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (service, _, mut client) = client(limits, 1 << 20, Duration::from_secs(10)).await;
    let started = std::time::Instant::now();
    let status = client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[("authorization", bearer(OPERATOR))],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        status.message().contains("GRPC_REQUEST_TIMEOUT_SECONDS"),
        "{status:?}"
    );
    assert_eq!(reason_of(&status).as_deref(), Some("SERVER_TIME_LIMIT"));
    assert!(started.elapsed() < Duration::from_secs(5));
    service.stop().await.unwrap();
}

/// Calls GetMembership as the operator with `grpc-timeout: timeout` over a
/// bare HTTP/2 connection, so what answers a passed deadline is the server
/// (tonic's client would cut the call by its own timer first), and returns
/// the status the server sent.
async fn call_without_a_client_timer(addr: std::net::SocketAddr, timeout: &str) -> tonic::Status {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!(
        "http://{addr}/candor.membership.v1.MembershipService/GetMembership"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .header("grpc-timeout", timeout)
    .header("authorization", bearer(OPERATOR))
    .body(())
    .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    // One uncompressed, empty GetMembershipRequest.
    body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    let response = response.await.unwrap();
    tonic::Status::from_header_map(response.headers()).expect("a trailers-only answer")
}

#[tokio::test]
async fn the_callers_deadline_cuts_the_call_and_the_handler_knows_what_is_left() {
    let (service, probe, mut slow_client) =
        client(Limits::default(), 1 << 20, Duration::from_secs(10)).await;
    let started = std::time::Instant::now();
    let status = call_without_a_client_timer(service.addr(), "400m").await;
    // DEADLINE_EXCEEDED from the server, with its reason.
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("caller's deadline"), "{status:?}");
    assert_eq!(
        reason_of(&status).as_deref(),
        Some("CALLER_DEADLINE_EXCEEDED")
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // A tonic client cuts the call by its own timer as well.
    let mut call = request(
        GetMembershipRequest::default(),
        &[("authorization", bearer(OPERATOR))],
    );
    call.set_timeout(Duration::from_millis(400));
    let status = slow_client.get_membership(call).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    for left in probe.deadlines_left.lock().unwrap().iter() {
        let left = left.expect("a deadline in the handler");
        assert!(
            left > Duration::ZERO && left <= Duration::from_millis(400),
            "{left:?}"
        );
    }

    // Without a deadline of its own a call runs under the server's limit.
    let (fast_service, fast_probe, mut fast_client) =
        client(Limits::default(), 1 << 20, Duration::ZERO).await;
    fast_client
        .get_membership(request(
            GetMembershipRequest::default(),
            &[("authorization", bearer(OPERATOR))],
        ))
        .await
        .unwrap();
    let left = fast_probe.deadlines_left.lock().unwrap()[0].expect("a deadline in the handler");
    let limit = Limits::default().request_timeout;
    assert!(
        left <= limit && left > limit - Duration::from_secs(5),
        "{left:?}"
    );
    // A caller deadline longer than the server's limit is cut to the limit.
    let mut call = request(
        GetMembershipRequest::default(),
        &[("authorization", bearer(OPERATOR))],
    );
    call.set_timeout(limit * 10);
    fast_client.get_membership(call).await.unwrap();
    let left = fast_probe.deadlines_left.lock().unwrap()[1].expect("a deadline in the handler");
    assert!(left <= limit, "{left:?}");
    fast_service.stop().await.unwrap();
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_method_the_port_does_not_serve_is_answered_with_details() {
    // tonic's router answers it itself; the server adds the details.
    let (service, _, _) = client(Limits::default(), 1 << 20, Duration::ZERO).await;
    let status = candor_proto::forum::v1::forum_service_client::ForumServiceClient::new(
        service.channel().await.unwrap(),
    )
    .list_boards(candor_proto::forum::v1::ListBoardsRequest::default())
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_eq!(reason_of(&status).as_deref(), Some("RPC_NOT_SERVED"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_are_shed() {
    let limits = Limits {
        max_concurrent_requests: 2,
        ..Limits::default()
    };
    let (service, _, client) = client(limits, 1 << 20, Duration::from_millis(1500)).await;
    let call = |mut client: MembershipServiceClient<Channel>| async move {
        client
            .get_membership(request(
                GetMembershipRequest::default(),
                &[("authorization", bearer(OPERATOR))],
            ))
            .await
    };
    let first = tokio::spawn(call(client.clone()));
    let second = tokio::spawn(call(client.clone()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = call(client.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("GRPC_MAX_CONCURRENT_REQUESTS"),
        "{status:?}"
    );
    assert_eq!(reason_of(&status).as_deref(), Some("SERVER_OVERLOADED"));
    let retry = status.get_details_retry_info().expect("a RetryInfo");
    assert!(retry.retry_delay.is_some(), "{retry:?}");
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    // Capacity is back once they finished.
    let third = call(client).await;
    assert!(third.is_ok(), "{third:?}");
    service.stop().await.unwrap();
}
