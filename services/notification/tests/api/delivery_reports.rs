//! RecordDeliveryReport: hard bounces, soft bounces up to the limit and
//! complaints change a SENT delivery (and suppress its address for later
//! emails); duplicates, reports on deliveries in other states, unmatched
//! and invalid reports change nothing; the progress counts them.

use std::time::Duration;

use candor_proto::events::v1::AffectedAccount;
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_proto::notification::v1::{
    Delivery, DeliveryReportKind, DeliveryState, EmailKind, ListDeliveriesRequest,
    PasswordChangedEmail, RecordDeliveryReportRequest, RecordDeliveryReportResponse,
    SendEmailRequest, SuppressionReason, send_email_request,
};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::metrics::scrape;
use candor_testkit::smtp::SmtpSink;
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

/// Reports a fresh incident affecting `affected` (thread link known, one
/// batch, enumeration complete) and returns its id.
pub async fn report_incident(
    environment: &TestEnvironment,
    affected: &[AffectedAccount],
) -> String {
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(environment, &incident).await;
    publish(environment, &thread_opened(&id)).await;
    publish(environment, &batch(&id, 1, affected)).await;
    let total = affected.len() as u64;
    publish(environment, &enumeration_completed(&id, total, 1)).await;
    id
}

/// The Message-ID of `account`'s notice for the incident, as stored (`<…>`).
pub async fn message_id_of(pool: &PgPool, incident_id: &str, account: &AffectedAccount) -> String {
    sqlx::query_scalar(
        "SELECT message_id FROM email_jobs WHERE incident_id = $1 AND account_id = $2",
    )
    .bind(incident_id)
    .bind(Uuid::parse_str(&account.account_id).unwrap())
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A report of `kind` from the test's own source.
pub fn report(report_id: &str, kind: DeliveryReportKind) -> RecordDeliveryReportRequest {
    RecordDeliveryReportRequest {
        source: "postmaster-tool".to_owned(),
        report_id: report_id.to_owned(),
        kind: kind as i32,
        detail: "smtp; 550 5.1.1 user unknown".to_owned(),
        ..Default::default()
    }
}

pub async fn record(
    client: &NotificationServiceClient<Channel>,
    request: RecordDeliveryReportRequest,
) -> Result<RecordDeliveryReportResponse, tonic::Status> {
    client
        .clone()
        .record_delivery_report(as_operator(request))
        .await
        .map(tonic::Response::into_inner)
}

fn state(delivery: &Delivery) -> DeliveryState {
    DeliveryState::try_from(delivery.state).unwrap()
}

/// Angle brackets dropped and the domain upper-cased: still the same email.
fn as_a_provider_writes_it(message_id: &str) -> String {
    let inner = message_id.trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = inner.rsplit_once('@').unwrap();
    format!("{local}@{}", domain.to_uppercase())
}

fn password_changed(key: &str, to: &str) -> SendEmailRequest {
    SendEmailRequest {
        idempotency_key: key.to_owned(),
        to_address: to.to_owned(),
        to_display_name: "Ada".to_owned(),
        content: Some(send_email_request::Content::PasswordChanged(
            PasswordChangedEmail {
                changed_at: Some(now()),
            },
        )),
        ..Default::default()
    }
}

#[tokio::test]
async fn bounces_and_complaints_change_a_sent_notice_once_and_suppress_later_email() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let (service, metrics_addr) = start_with_metrics(config(&environment, &sink.url())).await;
    let client = client(&service).await;
    let pool = environment.database.pool();
    let affected = accounts(3);
    let id = report_incident(&environment, &affected).await;
    jobs_reach(pool, &id, "sent", 3).await;

    // A hard bounce by Message-ID (as a provider may write it) and recipient.
    let message_id = message_id_of(pool, &id, &affected[0]).await;
    let mut hard = report("hard-1", DeliveryReportKind::HardBounce);
    hard.message_id = as_a_provider_writes_it(&message_id);
    hard.recipient = affected[0].email.to_uppercase();
    let bounced = record(&client, hard.clone()).await.unwrap();
    assert!(!bounced.duplicate);
    let delivery = bounced.delivery.unwrap();
    assert_eq!(state(&delivery), DeliveryState::Bounced);
    assert_eq!(delivery.message_id, message_id);
    assert_eq!(delivery.report_kind, DeliveryReportKind::HardBounce as i32);
    assert_eq!(delivery.delivery_report, "smtp; 550 5.1.1 user unknown");
    assert!(delivery.reported_at.is_some());
    assert_eq!(delivery.soft_bounces, 0);

    // The same report again changes nothing.
    let again = record(&client, hard).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(state(&again.delivery.unwrap()), DeliveryState::Bounced);

    // A complaint by recipient only: the most recent email to the address.
    let mut complaint = report("complaint-1", DeliveryReportKind::Complaint);
    complaint.recipient = affected[1].email.clone();
    complaint.detail = String::new();
    let complained = record(&client, complaint).await.unwrap().delivery.unwrap();
    assert_eq!(state(&complained), DeliveryState::Complained);
    assert_eq!(complained.report_kind, DeliveryReportKind::Complaint as i32);

    // A report on a delivery no longer SENT is recorded, changes nothing.
    let mut late = report("complaint-2", DeliveryReportKind::Complaint);
    late.message_id = message_id.clone();
    let late = record(&client, late).await.unwrap();
    assert!(!late.duplicate);
    let late = late.delivery.unwrap();
    assert_eq!(state(&late), DeliveryState::Bounced);
    assert_eq!(late.report_kind, DeliveryReportKind::HardBounce as i32);

    let causes: Vec<(String, String)> =
        sqlx::query_as("SELECT address, cause FROM suppressed_addresses ORDER BY cause")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        causes,
        vec![
            (affected[0].email.to_lowercase(), "bounced".to_owned()),
            (affected[1].email.to_lowercase(), "complained".to_owned()),
        ]
    );

    // Later email to either address is not sent.
    for (key, account) in [("later-0", &affected[0]), ("later-1", &affected[1])] {
        let delivery = client
            .clone()
            .send_email(as_account(password_changed(key, &account.email)))
            .await
            .unwrap()
            .into_inner()
            .delivery
            .unwrap();
        assert_eq!(state(&delivery), DeliveryState::Suppressed, "{key}");
        assert_eq!(
            delivery.suppression_reason,
            SuppressionReason::AddressSuppressed as i32
        );
    }

    // The progress counts them; a bounced notice did not reach its member.
    let progress = progress_when(&client, &id, LONG, "settled", |progress| progress.settled).await;
    assert_eq!(
        (
            progress.sent,
            progress.bounced,
            progress.complained,
            progress.failed
        ),
        (1, 1, 1, 0)
    );
    assert!(
        !progress.complete,
        "a bounced notice did not reach its member"
    );
    assert!(progress.last_delivered_at.is_some());
    assert_eq!(progress.soft_bounced, 0);

    // ListDeliveries filters on the new states.
    for (filter, expected) in [
        (DeliveryState::Bounced, &affected[0]),
        (DeliveryState::Complained, &affected[1]),
    ] {
        let listed = client
            .clone()
            .list_deliveries(as_operator(ListDeliveriesRequest {
                incident_id: id.clone(),
                state: filter as i32,
                kind: EmailKind::BreachNotice as i32,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .deliveries;
        assert_eq!(listed.len(), 1, "{filter:?}");
        assert_eq!(listed[0].account_id, expected.account_id);
    }

    // Counted by source (the caller's own source is "grpc"), kind and
    // outcome; the incident's notices by state.
    let metrics = scrape(metrics_addr).await.unwrap();
    let reports = |kind: &str, outcome: &str| {
        metrics.value(
            "candor_notification_delivery_reports_total",
            &[("source", "grpc"), ("kind", kind), ("outcome", outcome)],
        )
    };
    assert_eq!(reports("hard_bounce", "applied"), Some(1.0));
    assert_eq!(reports("hard_bounce", "duplicate"), Some(1.0));
    assert_eq!(reports("complaint", "applied"), Some(2.0));
    for state in ["bounced", "complained", "delivered"] {
        assert_eq!(
            metrics.value(
                "candor_breach_notices",
                &[("incident", id.as_str()), ("state", state)]
            ),
            Some(1.0),
            "{state}"
        );
    }
}

#[tokio::test]
async fn the_soft_bounce_limit_is_bounded() {
    let environment = TestEnvironment::new().await.unwrap();
    let organisation = ("ORGANISATION_NAME", "Candor Books".to_owned());
    let config: candor_notification::Config = environment
        .config(std::slice::from_ref(&organisation))
        .unwrap();
    assert_eq!(config.soft_bounce_max_retries, 3, "the default");
    for valid in ["0", "20"] {
        let config: candor_notification::Config = environment
            .config(&[
                organisation.clone(),
                ("SOFT_BOUNCE_MAX_RETRIES", valid.to_owned()),
            ])
            .unwrap();
        assert_eq!(config.soft_bounce_max_retries.to_string(), valid);
    }
    for invalid in ["21", "-1", "three"] {
        let error = environment
            .config::<candor_notification::Config>(&[
                organisation.clone(),
                ("SOFT_BOUNCE_MAX_RETRIES", invalid.to_owned()),
            ])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("SOFT_BOUNCE_MAX_RETRIES"),
            "{invalid}: {error}"
        );
        assert!(!error.contains('\n'), "one line: {error}");
    }
}

#[tokio::test]
async fn soft_bounces_send_the_notice_again_up_to_the_limit_then_bounce_it() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.soft_bounce_max_retries = 1;
    let service = start(settings).await;
    let client = client(&service).await;
    let pool = environment.database.pool();
    let affected = accounts(1);
    let id = report_incident(&environment, &affected).await;
    jobs_reach(pool, &id, "sent", 1).await;
    let message_id = message_id_of(pool, &id, &affected[0]).await;

    let mut first = report("soft-1", DeliveryReportKind::SoftBounce);
    first.message_id = message_id.clone();
    first.detail = "smtp; 452 4.2.2 mailbox full".to_owned();
    let queued = record(&client, first).await.unwrap().delivery.unwrap();
    assert_eq!(state(&queued), DeliveryState::Queued);
    assert_eq!(queued.soft_bounces, 1);
    assert_eq!(queued.report_kind, DeliveryReportKind::SoftBounce as i32);
    let due = queued.next_attempt_at.unwrap();
    let wait = due.seconds - now().seconds;
    assert!((14 * 60..=15 * 60).contains(&wait), "due in {wait} s");
    let progress = progress_when(&client, &id, LONG, "counted", |_| true).await;
    assert_eq!(progress.soft_bounced, 1);
    assert!(!progress.settled, "queued again");

    // Due now: it is sent again, the same email.
    sqlx::query("UPDATE email_queue SET next_attempt_at = now()")
        .execute(pool)
        .await
        .unwrap();
    jobs_reach(pool, &id, "sent", 1).await;
    let received = sink.messages_to(&affected[0].email);
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].header("Message-ID"),
        received[1].header("Message-ID")
    );

    // Past the limit: a hard bounce.
    let mut second = report("soft-2", DeliveryReportKind::SoftBounce);
    second.message_id = message_id;
    let bounced = record(&client, second).await.unwrap().delivery.unwrap();
    assert_eq!(state(&bounced), DeliveryState::Bounced);
    assert_eq!(bounced.soft_bounces, 2);
    let progress = progress_when(&client, &id, LONG, "settled", |progress| progress.settled).await;
    assert_eq!((progress.bounced, progress.soft_bounced), (1, 1));
}

#[tokio::test]
async fn unmatched_and_invalid_reports_are_refused_and_name_the_field() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let client = client(&service).await;
    let pool = environment.database.pool();
    let affected = accounts(2);
    let id = report_incident(&environment, &affected).await;
    jobs_reach(pool, &id, "sent", 2).await;
    let message_id = message_id_of(pool, &id, &affected[0]).await;

    let mut unknown_id = report("u-1", DeliveryReportKind::HardBounce);
    unknown_id.message_id = format!("<{}@books.example>", Uuid::now_v7());
    let mut foreign = report("u-2", DeliveryReportKind::HardBounce);
    foreign.message_id = "CAF=abc123@mail.gmail.com".to_owned();
    let mut other_domain = report("u-3", DeliveryReportKind::HardBounce);
    other_domain.message_id = message_id.replace("books.example", "elsewhere.example");
    let mut never_mailed = report("u-4", DeliveryReportKind::HardBounce);
    never_mailed.recipient = "nobody@example.org".to_owned();
    let mut disagreeing = report("u-5", DeliveryReportKind::HardBounce);
    disagreeing.message_id = message_id.clone();
    disagreeing.recipient = affected[1].email.clone();
    for request in [unknown_id, foreign, other_domain, never_mailed, disagreeing] {
        let status = record(&client, request.clone()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound, "{request:?}");
    }

    let valid = || {
        let mut request = report("i-1", DeliveryReportKind::HardBounce);
        request.message_id = message_id.clone();
        request
    };
    let cases: Vec<(&str, RecordDeliveryReportRequest)> = vec![
        (
            "source",
            RecordDeliveryReportRequest {
                source: "Postmaster".to_owned(),
                ..valid()
            },
        ),
        (
            "source",
            RecordDeliveryReportRequest {
                source: String::new(),
                ..valid()
            },
        ),
        (
            "report_id",
            RecordDeliveryReportRequest {
                report_id: String::new(),
                ..valid()
            },
        ),
        (
            "report_id",
            RecordDeliveryReportRequest {
                report_id: "x".repeat(201),
                ..valid()
            },
        ),
        ("kind", RecordDeliveryReportRequest { kind: 0, ..valid() }),
        (
            "kind",
            RecordDeliveryReportRequest {
                kind: 42,
                ..valid()
            },
        ),
        (
            "message_id",
            RecordDeliveryReportRequest {
                message_id: "no-at-sign".to_owned(),
                ..valid()
            },
        ),
        (
            "message_id",
            RecordDeliveryReportRequest {
                message_id: "x".repeat(999),
                ..valid()
            },
        ),
        (
            "message_id",
            RecordDeliveryReportRequest {
                message_id: String::new(),
                ..valid()
            },
        ),
        (
            "recipient",
            RecordDeliveryReportRequest {
                recipient: "not an address".to_owned(),
                ..valid()
            },
        ),
        (
            "recipient",
            RecordDeliveryReportRequest {
                recipient: format!("{}@example.org", "a".repeat(250)),
                ..valid()
            },
        ),
        (
            "detail",
            RecordDeliveryReportRequest {
                detail: "x".repeat(1001),
                ..valid()
            },
        ),
        (
            "detail",
            RecordDeliveryReportRequest {
                detail: "nul\0".to_owned(),
                ..valid()
            },
        ),
        (
            "occurred_at",
            RecordDeliveryReportRequest {
                occurred_at: Some(prost_types::Timestamp {
                    seconds: now().seconds + 3600,
                    nanos: 0,
                }),
                ..valid()
            },
        ),
    ];
    for (field, request) in cases {
        let status = record(&client, request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }

    // Nothing changed, nothing recorded.
    assert_eq!(count_jobs(pool, &id, "sent").await, 2);
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM delivery_reports")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
}
