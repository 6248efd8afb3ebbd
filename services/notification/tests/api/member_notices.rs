//! What each member's notice says, end to end through the service: the
//! organisation named by its settings (never by EMAIL_FROM), only the data
//! that was held about that member, and the operator's test copy.

use std::time::Duration;

use candor_proto::events::v1::{AffectedAccount, DataClass};
use candor_proto::notification::v1::SendTestNoticeRequest;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::{ReceivedMessage, Refusal, SmtpSink};
use tonic::Code;

use crate::helpers::*;
use crate::notices::decoded_text;

const LONG: Duration = Duration::from_secs(60);

/// The message's text and HTML bodies (without their part headers),
/// quoted-printable decoded, CRLF line ends kept.
fn parts(message: &ReceivedMessage) -> (String, String) {
    let raw = message.text();
    let body = |content_type: &str| {
        let start = raw
            .find(&format!("Content-Type: {content_type}"))
            .unwrap_or_else(|| panic!("no {content_type} part"));
        let body_start = start + raw[start..].find("\r\n\r\n").unwrap() + 4;
        let body_end = body_start + raw[body_start..].find("\r\n--").unwrap();
        decoded_text(&raw[body_start..body_end])
    };
    (body("text/plain"), body("text/html"))
}

fn holding(mut account: AffectedAccount, classes: &[DataClass]) -> AffectedAccount {
    account.held_data_classes = classes.iter().map(|class| *class as i32).collect();
    account
}

#[tokio::test]
async fn with_an_organisation_name_the_notice_speaks_for_it_and_never_for_candor() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut config = config(&environment, &sink.url());
    config.email_from = "security@acme.example".to_owned();
    config.organisation_name = "Acme".to_owned();
    config.public_base_url = "https://acme.example".to_owned();
    config.thread_link_wait_seconds = 0;
    let service = start(config).await;
    let mut incident = incident();
    let contact = incident.contact.as_mut().unwrap();
    contact.email = "privacy@acme.example".to_owned();
    contact.url = "https://acme.example/security".to_owned();
    incident.summary = incident.summary.replace("Candor Books", "Acme");
    incident
        .recommended_actions
        .retain(|action| !action.contains("Candor"));
    let id = incident.incident_id.clone();
    let member = accounts(1);

    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &member)).await;
    let received = sink.wait_for(1, LONG).await;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(
        message.header("From").as_deref(),
        Some("Acme <security@acme.example>")
    );
    let (text, html) = parts(message);
    for part in [&text, &html] {
        assert!(
            part.contains("a data breach at Acme that involves"),
            "{part}"
        );
        assert!(
            part.contains("security@acme.example"),
            "the contact: {part}"
        );
        assert!(!part.to_lowercase().contains("candor"), "{part}");
    }
    assert!(
        text.contains("We are sorry this happened.\r\n\r\nAcme\r\n"),
        "{text}"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn each_member_is_told_only_of_the_data_held_about_them() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let mut members = accounts(3).into_iter();
    let with_password = holding(
        members.next().unwrap(),
        &[
            DataClass::EmailAddress,
            DataClass::DisplayName,
            DataClass::PasswordHash,
        ],
    );
    let without_password = holding(
        members.next().unwrap(),
        &[DataClass::EmailAddress, DataClass::DisplayName],
    );
    // From a publisher that does not say: every class, as before.
    let not_known = holding(members.next().unwrap(), &[]);
    let everyone = [
        with_password.clone(),
        without_password.clone(),
        not_known.clone(),
    ];

    publish(&environment, &incident).await;
    publish(&environment, &thread_opened(&id)).await;
    publish(&environment, &batch(&id, 1, &everyone)).await;
    assert_eq!(sink.wait_for(3, LONG).await.len(), 3);

    for member in [&with_password, &not_known] {
        let (text, html) = parts(&sink.messages_to(&member.email)[0]);
        for part in [&text, &html] {
            assert!(part.contains("Your email address"), "{part}");
            assert!(part.contains("Your password hash (salted SHA-1 password hashes)"));
            assert!(part.contains("Your old password no longer works"), "{part}");
            assert!(part.contains("https://books.example/account/reset-password"));
        }
    }
    let (text, html) = parts(&sink.messages_to(&without_password.email)[0]);
    for part in [&text, &html] {
        assert!(part.contains("Your email address"), "{part}");
        assert!(!part.contains("Your password hash"), "{part}");
        assert!(!part.contains("Your old password"), "{part}");
        assert!(!part.contains("/account/reset-password"), "{part}");
        assert!(part.contains("https://books.example/account/deactivate"));
    }
    jobs_reach(environment.database.pool(), &id, "sent", 3).await;
    let held: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT content FROM email_jobs WHERE incident_id = $1 AND to_address = $2",
    )
    .bind(&id)
    .bind(&without_password.email)
    .fetch_one(environment.database.pool())
    .await
    .unwrap();
    // Kept once SENT (never a secret): a soft bounce may send the notice
    // again, worded the same; erased once it is final otherwise.
    assert_eq!(
        held,
        Some(serde_json::json!({"held_data_classes": [1, 3]})),
        "kept while SENT"
    );
    service.stop().await.unwrap();
}

fn test_request(to_address: &str) -> SendTestNoticeRequest {
    SendTestNoticeRequest {
        incident: Some(incident()),
        to_address: to_address.to_owned(),
        display_name: "Ada Lovelace".to_owned(),
        thread_url: String::new(),
    }
}

#[tokio::test]
async fn a_test_notice_goes_to_one_address_marked_and_records_nothing() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;

    let answer = client
        .send_test_notice(as_operator(test_request(" operator@books.example ")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.subject, "[TEST] Notice of Data Breach");
    assert_eq!(answer.to_address, "operator@books.example");

    let received = sink.messages();
    assert_eq!(received.len(), 1, "exactly one message");
    let message = &received[0];
    assert_eq!(message.to, ["operator@books.example"]);
    assert_eq!(
        message.header("Subject").as_deref(),
        Some("[TEST] Notice of Data Breach")
    );
    assert_eq!(message.header("Message-ID"), Some(answer.message_id));
    let (text, html) = parts(message);
    for part in [&text, &html] {
        assert!(part.contains("This is a test of the notice members will receive"));
        assert!(part.contains("Dear Ada Lovelace,"), "{part}");
        assert!(part.contains("a data breach at Candor Books"), "{part}");
        assert!(part.contains("What Happened") || part.contains("WHAT HAPPENED"));
    }
    let pool = environment.database.pool();
    for table in [
        "incidents",
        "email_jobs",
        "email_queue",
        "suppressed_addresses",
    ] {
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(rows, 0, "nothing recorded in {table}");
    }

    // A refusal is the SMTP server's, and suppresses nothing.
    sink.refuse("gone@books.example", Refusal::Permanent);
    let refused = client
        .send_test_notice(as_operator(test_request("gone@books.example")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("550"), "{}", refused.message());
    let invalid = client
        .send_test_notice(as_operator(test_request("not an address")))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().starts_with("to_address"),
        "{}",
        invalid.message()
    );
    let mut no_incident = test_request("operator@books.example");
    no_incident.incident = None;
    let invalid = client
        .send_test_notice(as_operator(no_incident))
        .await
        .unwrap_err();
    assert!(
        invalid.message().starts_with("incident"),
        "{}",
        invalid.message()
    );
    let suppressed: i64 = sqlx::query_scalar("SELECT count(*) FROM suppressed_addresses")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(suppressed, 0);
    assert_eq!(sink.messages().len(), 1);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_unavailable_for_a_test_notice() {
    let environment = TestEnvironment::new().await.unwrap();
    let service = start(config(&environment, "smtp://127.0.0.1:1")).await;
    let status = client(&service)
        .await
        .send_test_notice(as_operator(test_request("operator@books.example")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("SMTP server"),
        "{}",
        status.message()
    );
    service.stop().await.unwrap();
}
