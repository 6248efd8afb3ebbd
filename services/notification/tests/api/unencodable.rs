//! Text that cannot go into a header: SendEmail refuses it, and a job that
//! holds it anyway (from an event, an older version, a manual fix) fails
//! alone with its reason instead of panicking the send worker and coming
//! back forever.

use std::time::Duration;

use candor_proto::notification::v1::{
    FailureClass, PasswordResetEmail, SendEmailRequest, send_email_request,
};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;
use tonic::Code;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

fn reset_email(to_address: &str, to_display_name: &str) -> SendEmailRequest {
    SendEmailRequest {
        idempotency_key: format!("unencodable:{}", uuid::Uuid::now_v7()),
        account_id: String::new(),
        to_address: to_address.to_owned(),
        to_display_name: to_display_name.to_owned(),
        content: Some(send_email_request::Content::PasswordReset(
            PasswordResetEmail {
                reset_url: "https://candor.example/reset?token=abc".to_owned(),
                expires_at: Some(now()),
            },
        )),
    }
}

#[tokio::test]
async fn send_email_refuses_line_breaks_and_over_long_raw_values() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;
    let cases = [
        (
            reset_email("ann@example.org", "Ann\r\nBcc: everyone@example.org"),
            "to_display_name: must be a single line",
        ),
        (
            reset_email("ann@example.org\r\nBcc: x@example.org", "Ann"),
            "to_address: must be a single line",
        ),
        (
            reset_email(
                "ann@example.org",
                &format!("{}Ann{}", " ".repeat(40), " ".repeat(40)),
            ),
            "to_display_name: must be at most 64 characters",
        ),
        (
            reset_email(&format!("{}ann@example.org", " ".repeat(300)), "Ann"),
            "to_address: must be at most 254 characters",
        ),
    ];
    for (request, expected) in cases {
        let status = client.send_email(as_account(request)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(expected), "{status:?}");
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_notice_whose_header_cannot_be_encoded_fails_alone_and_the_incident_settles() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let mut affected = accounts(3);
    // Events bypass SendEmail's checks: this name reaches the job table.
    affected[1].display_name = "Eve\r\nBcc: attacker@example.org".to_owned();

    publish(&environment, &incident).await;
    publish(&environment, &thread_opened(&id)).await;
    publish(&environment, &batch(&id, 1, &affected)).await;
    publish(&environment, &enumeration_completed(&id, 3, 1)).await;

    let client = client(&service).await;
    let progress = progress_when(&client, &id, LONG, "a settled report", |progress| {
        progress.settled
    })
    .await;
    assert_eq!(progress.sent, 2, "{progress:?}");
    assert_eq!(progress.failed, 1, "{progress:?}");
    assert_eq!(progress.queued + progress.sending, 0, "{progress:?}");
    assert!(!progress.complete, "finished with a failure: {progress:?}");
    let group = &progress.failure_groups[0];
    assert_eq!(group.failure_class, FailureClass::Unsendable as i32);
    assert!(!group.retryable && progress.failed_retryable == 0);

    let (state, last_error, attempts): (String, Option<String>, i32) = sqlx::query_as(
        "SELECT state, last_error, attempts FROM email_jobs WHERE incident_id = $1 AND account_id = $2::uuid",
    )
    .bind(&id)
    .bind(&affected[1].account_id)
    .fetch_one(environment.database.pool())
    .await
    .unwrap();
    assert_eq!(state, "failed");
    let last_error = last_error.unwrap_or_default();
    assert!(
        last_error.contains("display name must be a single line"),
        "{last_error}"
    );
    assert!(attempts <= 1, "failed at once, not retried: {attempts}");
    assert!(sink.messages_to(&affected[1].email).is_empty());
    assert!(
        !sink
            .messages()
            .iter()
            .any(|message| message.text().contains("attacker@example.org"))
    );
    service.stop().await.unwrap();
}
