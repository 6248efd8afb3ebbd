//! An incident whose notices failed is settled but never complete; its
//! failures are grouped by class and reason, and RetryFailedNotices queues
//! again only those retrying can help.

use std::time::Duration;

use candor_proto::events::v1::AffectedAccount;
use candor_proto::notification::v1::{
    FailureClass, GetIncidentProgressRequest, RetryFailedNoticesRequest,
};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::proxy::TcpProxy;
use candor_testkit::smtp::{Refusal, SmtpSink};

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

/// Reports a fresh incident affecting `affected`, in one batch with its
/// enumeration, and returns its id.
async fn report(environment: &TestEnvironment, affected: &[AffectedAccount]) -> String {
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(environment, &incident).await;
    publish(environment, &batch(&id, 1, affected)).await;
    let total = affected.len() as u64;
    publish(environment, &enumeration_completed(&id, total, 1)).await;
    id
}

#[tokio::test]
async fn failed_notices_settle_the_incident_with_failures_and_only_retryable_ones_are_queued_again()
{
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.send_max_attempts = 2;
    settings.send_retry_initial_ms = 50;
    settings.send_retry_max_ms = 100;
    let service = start(settings).await;
    let affected = accounts(4);
    // One address refused for good, two busy until the operator fixes it.
    sink.refuse(&affected[0].email, Refusal::Permanent);
    sink.refuse(&affected[1].email, Refusal::Temporary);
    sink.refuse(&affected[2].email, Refusal::Temporary);
    let id = report(&environment, &affected).await;

    let client = client(&service).await;
    let progress = progress_when(&client, &id, LONG, "the notices settled", |progress| {
        progress.settled
    })
    .await;
    assert!(
        !progress.complete,
        "an incident with failures is not complete"
    );
    assert_eq!(
        (progress.sent, progress.failed, progress.suppressed),
        (1, 3, 0)
    );
    assert_eq!(progress.failed_retryable, 2);
    assert_eq!(progress.estimated_completion_at, None);
    let groups = &progress.failure_groups;
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(
        groups[0].failure_class,
        FailureClass::RetriesExhausted as i32
    );
    assert_eq!(groups[0].count, 2);
    assert!(groups[0].retryable);
    assert!(
        groups[0].reason.starts_with("gave up after 2 attempts")
            && groups[0].reason.contains("450"),
        "{}",
        groups[0].reason
    );
    assert_eq!(groups[1].failure_class, FailureClass::Refused as i32);
    assert_eq!(groups[1].count, 1);
    assert!(!groups[1].retryable);
    assert!(groups[1].reason.contains("550"), "{}", groups[1].reason);

    sink.accept(&affected[1].email);
    sink.accept(&affected[2].email);
    let retry = || {
        let mut client = client.clone();
        let request = as_operator(RetryFailedNoticesRequest {
            incident_id: id.clone(),
        });
        async move {
            let answer = client.retry_failed_notices(request).await.unwrap();
            let answer = answer.into_inner();
            (
                answer.requeued,
                answer.not_retryable_refused,
                answer.not_retryable_unsendable,
                answer.not_retryable_deactivated,
            )
        }
    };
    assert_eq!(retry().await, (2, 1, 0, 0));
    // Asked again at once: nothing failed is retryable any more.
    assert_eq!(retry().await, (0, 1, 0, 0));

    let progress = progress_when(&client, &id, LONG, "the retried notices sent", |progress| {
        progress.settled && progress.sent == 3
    })
    .await;
    assert_eq!(progress.failed, 1);
    assert_eq!(progress.failed_retryable, 0);
    assert!(!progress.complete, "the refused address still failed");
    assert_eq!(sink.messages_to(&affected[1].email).len(), 1);
    assert_eq!(sink.messages_to(&affected[2].email).len(), 1);
    assert!(sink.messages_to(&affected[0].email).is_empty());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_incident_whose_notices_all_went_out_is_complete() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    let service = start(settings).await;
    let id = report(&environment, &accounts(2)).await;

    let client = client(&service).await;
    let progress = progress_when(&client, &id, LONG, "the notices settled", |progress| {
        progress.settled
    })
    .await;
    assert!(progress.complete);
    assert_eq!((progress.sent, progress.failed), (2, 0));
    assert!(progress.failure_groups.is_empty());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn notices_waiting_for_a_retry_are_counted_as_retrying() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let proxy = TcpProxy::start(sink.addr()).await.unwrap();
    proxy.cut();
    let mut settings = config(&environment, &format!("smtp://{}", proxy.address()));
    settings.thread_link_wait_seconds = 0;
    // The first retry is far away: the notices wait, QUEUED.
    settings.send_retry_initial_ms = 600_000;
    settings.send_retry_max_ms = 600_000;
    let service = start(settings).await;
    let id = report(&environment, &accounts(3)).await;

    let client = client(&service).await;
    let progress = progress_when(&client, &id, LONG, "three notices retrying", |progress| {
        progress.retrying == 3
    })
    .await;
    assert_eq!(progress.queued, 3);
    assert!(!progress.settled && !progress.complete);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_incident_is_not_found() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;
    let progress = client
        .get_incident_progress(as_operator(GetIncidentProgressRequest {
            incident_id: "never-reported".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(progress.code(), tonic::Code::NotFound);
    assert!(
        progress.message().contains("never-reported"),
        "{progress:?}"
    );
    let retry = client
        .retry_failed_notices(as_operator(RetryFailedNoticesRequest {
            incident_id: "never-reported".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(retry.code(), tonic::Code::NotFound);
    let empty = client
        .retry_failed_notices(as_operator(RetryFailedNoticesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    assert!(empty.message().contains("incident_id"), "{empty:?}");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_failed_notice_of_a_member_deactivated_since_stays_failed() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.send_max_attempts = 1;
    let service = start(settings).await;
    let affected = accounts(2);
    for account in &affected {
        sink.refuse(&account.email, Refusal::Temporary);
    }
    let id = report(&environment, &affected).await;
    let client = client(&service).await;
    progress_when(&client, &id, LONG, "both notices failed", |progress| {
        progress.settled && progress.failed_retryable == 2
    })
    .await;

    // The first member leaves: their address is erased, nothing to retry.
    publish(&environment, &deactivated(&affected[0].account_id)).await;
    let progress = progress_when(&client, &id, LONG, "one retryable left", |progress| {
        progress.failed_retryable == 1
    })
    .await;
    assert_eq!(progress.failed, 2);
    for account in &affected {
        sink.accept(&account.email);
    }
    let answer = client
        .clone()
        .retry_failed_notices(as_operator(RetryFailedNoticesRequest {
            incident_id: id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((answer.requeued, answer.not_retryable_deactivated), (1, 1));
    progress_when(
        &client,
        &id,
        LONG,
        "the other member's notice sent",
        |progress| progress.settled && progress.sent == 1 && progress.failed == 1,
    )
    .await;
    assert!(sink.messages_to(&affected[0].email).is_empty());
    service.stop().await.unwrap();
}
