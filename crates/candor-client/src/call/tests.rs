//! A connection against a scripted forum service: what it sends, when it
//! sends again, and when it stops waiting.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::proto::forum::v1::{CreatePostRequest, ListBoardsRequest};
use crate::{Connection, ConnectionBuilder, RetryPolicy, as_member};

/// What the scripted service answers to its `n`th call (from 0).
type Script = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

#[derive(Clone)]
enum Answer {
    Ok,
    Status(tonic::Code, Option<Duration>),
}

/// A forum service answering every method by a script, recording the path
/// and headers of every call.
#[derive(Clone)]
struct ScriptedForum {
    script: Script,
    calls: Arc<Mutex<Vec<(String, http::HeaderMap)>>>,
}

impl tonic::server::NamedService for ScriptedForum {
    const NAME: &'static str = "candor.forum.v1.ForumService";
}

impl tower::Service<http::Request<tonic::body::Body>> for ScriptedForum {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let mut calls = self.calls.lock().unwrap();
        let answer = (self.script)(calls.len());
        calls.push((request.uri().path().to_owned(), request.headers().clone()));
        std::future::ready(Ok(respond(answer)))
    }
}

fn respond(answer: Answer) -> http::Response<tonic::body::Body> {
    match answer {
        Answer::Status(code, retry_delay) => {
            let mut details = tonic_types::ErrorDetails::new();
            if let Some(delay) = retry_delay {
                details.set_retry_info(Some(delay));
            }
            <tonic::Status as tonic_types::StatusExt>::with_error_details(code, "scripted", details)
                .into_http()
        }
        Answer::Ok => {
            // One empty message, then OK in the trailers.
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let frames: Vec<Result<http_body::Frame<bytes::Bytes>, Infallible>> = vec![
                Ok(http_body::Frame::data(bytes::Bytes::from_static(&[
                    0, 0, 0, 0, 0,
                ]))),
                Ok(http_body::Frame::trailers(trailers)),
            ];
            let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
            let mut response = http::Response::new(tonic::body::Body::new(body));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            response
        }
    }
}

impl ScriptedForum {
    async fn serve(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> (Self, String) {
        let forum = Self {
            script: Arc::new(script),
            calls: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(forum.clone())
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (forum, url)
    }

    fn calls(&self) -> Vec<(String, http::HeaderMap)> {
        self.calls.lock().unwrap().clone()
    }
}

fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    }
}

fn connect(builder: ConnectionBuilder) -> Connection {
    builder.connect_lazy().unwrap()
}

#[tokio::test]
async fn reads_are_sent_again_on_unavailable_and_writes_are_not() {
    let (forum, url) =
        ScriptedForum::serve(|_| Answer::Status(tonic::Code::Unavailable, None)).await;
    let connection = connect(Connection::builder(url).retry_policy(quick_retries(3)));

    let read = connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();
    assert_eq!(read.code(), tonic::Code::Unavailable);
    assert_eq!(forum.calls().len(), 3, "a read is tried three times");

    let write = connection
        .forum()
        .create_post(CreatePostRequest::default())
        .await
        .unwrap_err();
    assert_eq!(write.code(), tonic::Code::Unavailable);
    let calls = forum.calls();
    assert_eq!(calls.len(), 4, "a post is sent once");
    assert_eq!(calls[3].0, "/candor.forum.v1.ForumService/CreatePost");
}

#[tokio::test]
async fn a_read_recovers_when_the_service_comes_back_and_other_errors_are_not_retried() {
    let (forum, url) = ScriptedForum::serve(|call| match call {
        0 | 1 => Answer::Status(tonic::Code::Unavailable, None),
        2 => Answer::Ok,
        _ => Answer::Status(tonic::Code::Internal, None),
    })
    .await;
    let connection = connect(Connection::builder(url).retry_policy(quick_retries(5)));

    connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap();
    assert_eq!(forum.calls().len(), 3);
    let internal = connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();
    assert_eq!(internal.code(), tonic::Code::Internal);
    assert_eq!(forum.calls().len(), 4, "INTERNAL is not sent again");
}

#[tokio::test]
async fn the_services_retry_delay_is_honoured_but_never_past_the_deadline() {
    let delay = Duration::from_millis(200);
    let (forum, url) =
        ScriptedForum::serve(move |_| Answer::Status(tonic::Code::Unavailable, Some(delay))).await;
    let connection = connect(Connection::builder(url).retry_policy(quick_retries(3)));

    let started = Instant::now();
    connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();
    assert!(started.elapsed() >= delay * 2, "{:?}", started.elapsed());
    assert_eq!(forum.calls().len(), 3);

    // Waiting would pass the deadline: the first answer stands.
    let mut request = tonic::Request::new(ListBoardsRequest {});
    request.set_timeout(Duration::from_millis(150));
    let started = Instant::now();
    let status = connection.forum().list_boards(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(started.elapsed() < Duration::from_millis(150));
    assert_eq!(forum.calls().len(), 4);
}

#[tokio::test]
async fn the_credential_moves_aside_for_a_member_and_every_call_has_a_deadline() {
    let (forum, url) = ScriptedForum::serve(|_| Answer::Ok).await;
    let connection = connect(
        Connection::builder(url)
            .bearer_token(SecretString::from("front-end-token"))
            .default_deadline(Duration::from_secs(7))
            .on_each_call(|headers| {
                headers.insert("x-hook", http::HeaderValue::from_static("ran"));
                Ok(())
            }),
    );

    connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap();
    let mut request = tonic::Request::new(ListBoardsRequest {});
    as_member(&mut request, "member-session").unwrap();
    request.set_timeout(Duration::from_millis(1500));
    connection.forum().list_boards(request).await.unwrap();

    let calls = forum.calls();
    let own = &calls[0].1;
    assert_eq!(own["authorization"], "Bearer front-end-token");
    assert!(own.get("x-caller-authorization").is_none());
    let sent = crate::grpc_timeout::of(own).unwrap();
    assert!(
        sent <= Duration::from_secs(7) && sent > Duration::from_secs(6),
        "{sent:?}"
    );
    assert_eq!(own["x-hook"], "ran");
    let for_member = &calls[1].1;
    assert_eq!(for_member["authorization"], "Bearer member-session");
    assert_eq!(
        for_member["x-caller-authorization"],
        "Bearer front-end-token"
    );
    let sent = crate::grpc_timeout::of(for_member).unwrap();
    assert!(
        sent <= Duration::from_millis(1500) && sent > Duration::from_secs(1),
        "the call's own deadline stays: {sent:?}"
    );
    assert!(as_member(&mut tonic::Request::new(()), "not\nascii").is_err());
}

#[tokio::test]
async fn a_hook_that_refuses_stops_the_call_before_it_is_sent() {
    let (forum, url) = ScriptedForum::serve(|_| Answer::Ok).await;
    let connection = connect(
        Connection::builder(url)
            .on_each_call(|_| Err(tonic::Status::deadline_exceeded("nothing left"))),
    );
    let status = connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    assert_eq!(status.message(), "nothing left");
    assert!(forum.calls().is_empty());
}

#[tokio::test]
async fn a_stalled_service_costs_the_deadline_and_answers_deadline_exceeded() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let deadline = Duration::from_millis(300);
    let connection = connect(Connection::builder(url).default_deadline(deadline));

    let started = Instant::now();
    let status = connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();

    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    let took = started.elapsed();
    assert!(took >= deadline && took < deadline * 3, "{took:?}");
}

#[tokio::test]
async fn a_service_that_is_not_there_is_unavailable_after_the_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let connection = connect(Connection::builder(url).retry_policy(quick_retries(3)));
    let status = connection
        .forum()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}

#[test]
fn a_url_that_is_not_grpc_is_refused_at_once() {
    let error = Connection::builder("ftp://127.0.0.1:1")
        .connect_lazy()
        .unwrap_err();
    assert!(
        matches!(error, crate::ConnectError::InvalidUrl { .. }),
        "{error}"
    );
    let error = Connection::builder("http://127.0.0.1:1")
        .bearer_token(SecretString::from("line\nbreak"))
        .connect_lazy()
        .unwrap_err();
    assert!(
        matches!(error, crate::ConnectError::InvalidToken),
        "{error}"
    );
}
