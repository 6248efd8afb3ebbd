//! Delivery over real SMTP: outages, permanent refusals, restarts, the rate.

use std::collections::HashSet;
use std::time::Duration;

use candor_proto::notification::v1::{DeliveryState, ListDeliveriesRequest};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::proxy::TcpProxy;
use candor_testkit::smtp::{Refusal, SmtpSink};
use chrono::{DateTime, Utc};

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn smtp_down_for_a_while_then_back_delivers_every_email_once() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let proxy = TcpProxy::start(sink.addr()).await.unwrap();
    proxy.cut();
    let service = start(config(&environment, &format!("smtp://{}", proxy.address()))).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(20);
    publish(&environment, &incident).await;
    publish(&environment, &thread_opened(&id)).await;
    publish(&environment, &batch(&id, 1, &affected)).await;

    let pool = environment.database.pool();
    eventually(LONG, "every job retried at least once", || async {
        let retried: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM email_jobs WHERE incident_id = $1 AND attempts >= 2 \
             AND last_error IS NOT NULL",
        )
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap();
        (retried == 20).then_some(())
    })
    .await;
    assert!(sink.messages().is_empty());

    proxy.restore();
    jobs_reach(pool, &id, "sent", 20).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 20, "none lost, none doubled");
    let recipients: HashSet<String> = messages.iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(recipients.len(), 20);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_5xx_fails_the_job_with_the_reply_and_suppresses_the_address() {
    use candor_proto::notification::v1::{
        PasswordResetEmail, SendEmailRequest, send_email_request,
    };

    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    let service = start(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(3);
    sink.refuse(&affected[0].email, Refusal::Permanent);
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected)).await;

    let pool = environment.database.pool();
    eventually(LONG, "two sent, one failed", || async {
        let sent = count_jobs(pool, &id, "sent").await;
        let failed = count_jobs(pool, &id, "failed").await;
        (sent == 2 && failed == 1).then_some(())
    })
    .await;
    let mut client = client(&service).await;
    let failed = client
        .list_deliveries(as_operator(ListDeliveriesRequest {
            incident_id: id.clone(),
            state: DeliveryState::Failed as i32,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].to_address, affected[0].email);
    assert!(
        failed[0].last_error.contains("550"),
        "{}",
        failed[0].last_error
    );
    assert!(
        failed[0].last_error.contains("no such mailbox"),
        "{}",
        failed[0].last_error
    );
    assert_eq!(failed[0].attempts, 1, "a 5xx is not retried");

    // The address is on the suppression list: a later email is suppressed.
    let response = client
        .send_email(as_account(SendEmailRequest {
            idempotency_key: "reset:after-5xx".to_owned(),
            to_address: affected[0].email.clone(),
            content: Some(send_email_request::Content::PasswordReset(
                PasswordResetEmail {
                    reset_url: "https://books.example/reset/secret".to_owned(),
                    expires_at: Some(now()),
                },
            )),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let delivery = response.delivery.unwrap();
    assert_eq!(delivery.state, DeliveryState::Suppressed as i32);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_mid_incident_resumes_without_resending_what_was_sent() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.send_rate_per_second = 20.0;
    let service = start(settings.clone()).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(60);
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected[..30])).await;
    publish(&environment, &batch(&id, 2, &affected[30..])).await;

    sink.wait_for(10, LONG).await;
    service.stop().await.unwrap();
    let pool = environment.database.pool();
    let sent_before = count_jobs(pool, &id, "sent").await;
    assert!(
        (10..60).contains(&sent_before),
        "stopped mid-incident: {sent_before}"
    );
    assert_eq!(
        count_jobs(pool, &id, "sending").await,
        0,
        "in-flight jobs finished"
    );

    let service = start(settings).await;
    jobs_reach(pool, &id, "sent", 60).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 60, "nothing sent twice");
    let recipients: HashSet<String> = messages.iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(recipients.len(), 60);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn jobs_waiting_behind_a_slow_smtp_server_are_not_taken_for_abandoned() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    // One connection at half a second a message: the last of the ten jobs
    // claimed together waits five seconds, well past the two after which a
    // job without a lease counts as abandoned and past the lease's three:
    // the renewed lease keeps them all.
    sink.set_accept_delay(Duration::from_millis(500));
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.smtp_concurrency = 1;
    settings.sending_stale_seconds = 2;
    settings.sender_lease_seconds = 3;
    let service = start(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(10);
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected)).await;

    let pool = environment.database.pool();
    jobs_reach(pool, &id, "sent", 10).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 10, "nothing requeued and sent twice");
    let recipients: HashSet<String> = messages.iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(recipients.len(), 10);
    let possibly_resent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM email_jobs WHERE incident_id = $1 AND possibly_resent",
    )
    .bind(&id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(possibly_resent, 0, "no live job was requeued");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_rate_limit_holds_over_every_window() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.send_rate_per_second = 10.0;
    let service = start(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &accounts(60))).await;

    let pool = environment.database.pool();
    jobs_reach(pool, &id, "sent", 60).await;
    let sent_at: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT sent_at FROM email_jobs WHERE incident_id = $1 ORDER BY sent_at",
    )
    .bind(&id)
    .fetch_all(pool)
    .await
    .unwrap();
    // A token bucket of 10/s saving at most 2 (a fifth of a second) allows
    // at most 2 + 10 × w messages in any window of w seconds; 5 more allowed
    // for send-time jitter (half a second of sends).
    let window = chrono::Duration::seconds(2);
    let most = sent_at
        .iter()
        .enumerate()
        .map(|(start, first)| {
            sent_at[start..]
                .iter()
                .take_while(|time| **time - *first < window)
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 27, "{most} messages within 2 s at 10/s");
    service.stop().await.unwrap();
}
