//! The default deadline: a service that never answers costs the caller
//! its deadline, no more, and the caller is told DEADLINE_EXCEEDED.

use std::time::{Duration, Instant};

use candor_client::proto::membership::v1::GetMembershipRequest;
use candor_client::{Connection, ErrorDetails};

/// Accepts connections and never says a word on them.
async fn stalled_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, holder)
}

#[tokio::test]
async fn the_default_deadline_ends_a_stalled_call_with_deadline_exceeded() {
    let (url, _holder) = stalled_endpoint().await;
    let deadline = Duration::from_millis(300);
    let connection = Connection::builder(url)
        .bearer_token(super::operator_token())
        .default_deadline(deadline)
        .connect_lazy()
        .unwrap();

    let started = Instant::now();
    let status = connection
        .membership()
        .get_membership(GetMembershipRequest {
            account_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    let took = started.elapsed();

    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(took >= deadline && took < deadline * 3, "{took:?}");
    assert_eq!(ErrorDetails::of(&status).reason, None);
}

#[tokio::test]
async fn a_calls_own_deadline_wins_over_the_default() {
    let (url, _holder) = stalled_endpoint().await;
    let connection = Connection::builder(url)
        .default_deadline(Duration::from_secs(30))
        .connect_lazy()
        .unwrap();
    let mut request = tonic::Request::new(GetMembershipRequest::default());
    request.set_timeout(Duration::from_millis(200));

    let started = Instant::now();
    let status = connection
        .membership()
        .get_membership(request)
        .await
        .unwrap_err();

    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
