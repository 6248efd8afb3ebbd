//! The RPCs: SendEmail, GetDelivery, ListDeliveries, RenderBreachNotice.

use std::time::Duration;

use candor_proto::notification::v1::{
    DeliveryState, GetDeliveryRequest, ListDeliveriesRequest, PasswordResetEmail,
    RenderBreachNoticeRequest, SendEmailRequest, send_email_request,
};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;
use tonic::Code;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

fn reset_email(key: &str, to: &str, link: &str) -> SendEmailRequest {
    SendEmailRequest {
        idempotency_key: key.to_owned(),
        to_address: to.to_owned(),
        to_display_name: "Ada".to_owned(),
        content: Some(send_email_request::Content::PasswordReset(
            PasswordResetEmail {
                reset_url: link.to_owned(),
                expires_at: Some(now()),
            },
        )),
        ..Default::default()
    }
}

#[tokio::test]
async fn send_email_is_idempotent_and_goes_out_ahead_of_a_breach_backlog() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.send_rate_per_second = 5.0;
    let service = start(settings).await;
    let mut client = client(&service).await;

    // A backlog: 100 notices at 5/s take 20 s.
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &accounts(100))).await;
    let pool = environment.database.pool();
    eventually(LONG, "the backlog queued and started", || async {
        (count_jobs(pool, &id, "sent").await >= 1).then_some(())
    })
    .await;

    let request = reset_email(
        "reset:1",
        "ada@example.org",
        "https://books.example/reset/t1",
    );
    let first = client
        .send_email(as_account(request.clone()))
        .await
        .unwrap()
        .into_inner()
        .delivery
        .unwrap();
    let again = client
        .send_email(as_account(request.clone()))
        .await
        .unwrap()
        .into_inner()
        .delivery
        .unwrap();
    assert_eq!(first.delivery_id, again.delivery_id);
    let other = reset_email(
        "reset:1",
        "ada@example.org",
        "https://books.example/reset/t2",
    );
    let status = client.send_email(as_account(other)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = client
        .send_email(as_operator(request.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut invalid = request.clone();
    invalid.to_address = "nope".to_owned();
    invalid.idempotency_key = "reset:2".to_owned();
    let status = client.send_email(as_account(invalid)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("to_address"),
        "{}",
        status.message()
    );

    let delivery = eventually(LONG, "the reset email sent", || {
        let mut client = client.clone();
        let delivery_id = first.delivery_id.clone();
        async move {
            let delivery = client
                .get_delivery(as_operator(GetDeliveryRequest { delivery_id }))
                .await
                .unwrap()
                .into_inner()
                .delivery
                .unwrap();
            (delivery.state == DeliveryState::Sent as i32).then_some(delivery)
        }
    })
    .await;
    assert!(delivery.sent_at.is_some());
    let notices_left = count_jobs(pool, &id, "queued").await;
    assert!(
        notices_left > 0,
        "the reset email did not wait for the backlog to drain"
    );
    let received = sink.messages_to("ada@example.org");
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .text()
            .contains("https://books.example/reset/t1")
    );
    let content_erased: bool = sqlx::query_scalar(
        "SELECT content IS NULL FROM email_jobs WHERE idempotency_key = 'reset:1'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(content_erased, "the secret link is erased once sent");

    let status = client
        .get_delivery(as_operator(GetDeliveryRequest {
            delivery_id: uuid::Uuid::now_v7().to_string(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn list_deliveries_pages_through_an_incident_in_order() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &accounts(5))).await;
    let pool = environment.database.pool();
    jobs_reach(pool, &id, "queued", 5).await;

    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_deliveries(as_operator(ListDeliveriesRequest {
                incident_id: id.clone(),
                state: DeliveryState::Queued as i32,
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.deliveries.len() <= 2);
        seen.extend(page.deliveries);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5);
    let mut ids: Vec<&str> = seen.iter().map(|d| d.delivery_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(
        seen.iter()
            .all(|d| d.next_attempt_at.is_some() && d.incident_id == id)
    );

    let first_page = client
        .list_deliveries(as_operator(ListDeliveriesRequest {
            incident_id: id.clone(),
            page_size: 2,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let status = client
        .list_deliveries(as_operator(ListDeliveriesRequest {
            incident_id: "another".to_owned(),
            page_token: first_page.next_page_token,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn render_breach_notice_is_a_dry_run_for_operators() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;
    let request = RenderBreachNoticeRequest {
        incident: Some(incident()),
        display_name: "<Ada>".to_owned(),
        ..Default::default()
    };
    let rendered = client
        .render_breach_notice(as_operator(request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rendered.subject, "Notice of Data Breach");
    assert!(rendered.text_body.contains("Dear <Ada>,"));
    assert!(rendered.html_body.contains("Dear &lt;Ada&gt;,"));
    assert!(rendered.html_body.contains("<h2>What Happened</h2>"));
    assert!(
        rendered
            .text_body
            .contains("https://books.example/forum/threads/sample")
    );
    let headers: Vec<&str> = rendered.headers.iter().map(|h| h.name.as_str()).collect();
    assert!(headers.contains(&"Auto-Submitted") && headers.contains(&"Reply-To"));

    let status = client
        .render_breach_notice(as_account(request.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut broken = incident();
    broken.discovered_at = Some(prost_types::Timestamp {
        seconds: 0,
        nanos: 0,
    });
    let status = client
        .render_breach_notice(as_operator(RenderBreachNoticeRequest {
            incident: Some(broken),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("incident.discovered_at"),
        "{}",
        status.message()
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM email_jobs")
        .fetch_one(environment.database.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    assert!(sink.messages().is_empty());
    service.stop().await.unwrap();
}
