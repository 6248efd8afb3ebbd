//! What a caller reads from the rich error details of the forum's answers
//! (`tonic_types::StatusExt`, Google's AIP-193): every error's ErrorInfo
//! with its documented reason and domain `candor`, the field of an
//! INVALID_ARGUMENT in a BadRequest, the delay of a RESOURCE_EXHAUSTED in a
//! RetryInfo and `retry-after`, the trace id of an INTERNAL.

use std::time::Duration;

use candor_proto::forum::v1::*;
use candor_testkit::error_details::{error_info, invalid_field};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::forum::{Options, TestForum, as_caller, operator};

#[tokio::test]
async fn every_error_names_its_documented_reason() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Mo");
    let mut client = forum.client();

    // INVALID_ARGUMENT: the field in the BadRequest and the ErrorInfo.
    let status = client
        .get_thread(GetThreadRequest {
            thread_id: "not-a-uuid".to_owned(),
        })
        .await
        .unwrap_err();
    invalid_field(&status, "thread_id");

    // NOT_FOUND and FAILED_PRECONDITION, each with its own reason.
    let status = client
        .get_thread(GetThreadRequest {
            thread_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    error_info(&status, "THREAD_NOT_FOUND");
    assert!(status.get_details_bad_request().is_none());
    let status = client
        .list_threads(ListThreadsRequest {
            board_id: "nowhere".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    error_info(&status, "BOARD_NOT_FOUND");
    let (thread_id, _) = forum.talk_thread(&member, "Closing soon").await;
    client
        .lock_thread(operator(LockThreadRequest {
            thread_id: thread_id.clone(),
            locked: true,
        }))
        .await
        .unwrap();
    let status = forum
        .reply(&member.token, &thread_id, "one more thing", "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    error_info(&status, "THREAD_LOCKED");

    // PERMISSION_DENIED: a member where staff is needed.
    let status = client
        .pin_thread(as_caller(
            &member.token,
            PinThreadRequest {
                thread_id: thread_id.clone(),
                pinned: true,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    error_info(&status, "STAFF_REQUIRED");

    // UNAUTHENTICATED: no credential (the permission layer), a revoked
    // session (the account service's answer).
    let status = client
        .create_post(CreatePostRequest {
            thread_id: thread_id.clone(),
            body: "anonymous".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    error_info(&status, "CREDENTIAL_MISSING");
    let gone = forum.accounts.member("Gone");
    forum.accounts.revoke(&gone);
    let status = forum
        .create_thread(&gone.token, "talk", "Hello", "anyone?")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    error_info(&status, "SESSION_INVALID");
}

#[tokio::test]
async fn throttled_posting_says_when_to_retry() {
    let forum = TestForum::start_with(Options {
        post_interval_seconds: 3600,
    })
    .await;
    let member = forum.accounts.member("Speedy");
    let (thread_id, _) = forum.talk_thread(&member, "Fast").await;
    let status = forum
        .reply(&member.token, &thread_id, "too soon", "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    error_info(&status, "THROTTLED");
    let retry_after: u64 = status
        .metadata()
        .get("retry-after")
        .expect("retry-after metadata")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let retry = status.get_details_retry_info().expect("a RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(retry_after)));
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn an_internal_failure_carries_only_its_trace_id() {
    let forum = TestForum::start().await;
    sqlx::query("ALTER TABLE boards RENAME TO boards_gone")
        .execute(forum.environment.database.pool())
        .await
        .unwrap();
    let status = forum
        .client()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    let info = error_info(&status, "INTERNAL_ERROR");
    let trace_id = info.metadata.get("trace_id").expect("a trace id");
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert_eq!(
        status.message(),
        format!("internal error (trace id {trace_id})")
    );
    assert!(!status.message().contains("boards"), "{}", status.message());
}
