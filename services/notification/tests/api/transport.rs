//! SMTP security against a real server (the testkit sink with TLS): STARTTLS
//! with AUTH, implicit TLS, and the failures that must not fall back to
//! sending in clear text.

use std::time::Duration;

use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;
use sqlx::PgPool;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

/// Publishes an incident with its thread and `count` affected accounts;
/// returns the incident id.
async fn breach(environment: &TestEnvironment, count: usize) -> String {
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(environment, &incident).await;
    publish(environment, &thread_opened(&id)).await;
    publish(environment, &batch(&id, 1, &accounts(count))).await;
    id
}

/// Waits for a job of the incident that was tried at least twice and whose
/// last error contains `expected`; returns that error.
async fn failed_attempt(pool: &PgPool, id: &str, expected: &str) -> String {
    eventually(LONG, expected, || async {
        let errors: Vec<String> = sqlx::query_scalar(
            "SELECT last_error FROM email_jobs WHERE incident_id = $1 AND attempts >= 2 \
             AND last_error IS NOT NULL",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
        errors.into_iter().find(|error| error.contains(expected))
    })
    .await
}

#[tokio::test]
async fn a_notice_goes_out_over_starttls_with_auth() {
    let environment = TestEnvironment::new().await.unwrap();
    // The sink offers AUTH only after STARTTLS and refuses MAIL FROM before
    // AUTH, so a delivered message went through both.
    let sink = SmtpSink::builder()
        .starttls()
        .credentials("candor", "s3cret/pass")
        .start()
        .unwrap();
    let mut settings = config(
        &environment,
        &format!("smtp://candor:s3cret%2Fpass@{}?tls=required", sink.addr()),
    );
    settings.smtp_ca_file = Some(sink.ca_file().unwrap());
    let service = start(settings).await;
    let id = breach(&environment, 3).await;

    let messages = sink.wait_for(3, LONG).await;
    assert_eq!(messages.len(), 3);
    for message in &messages {
        assert_eq!(
            message.header("Subject").as_deref(),
            Some("Notice of Data Breach")
        );
    }
    let pool = environment.database.pool();
    jobs_reach(pool, &id, "sent", 3).await;
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_notice_goes_out_over_implicit_tls() {
    let environment = TestEnvironment::new().await.unwrap();
    // The sink's port speaks only TLS.
    let sink = SmtpSink::builder().implicit_tls().start().unwrap();
    assert!(sink.url().starts_with("smtps://"));
    let mut settings = config(&environment, &sink.url());
    settings.smtp_ca_file = Some(sink.ca_file().unwrap());
    let service = start(settings).await;
    let id = breach(&environment, 2).await;

    let messages = sink.wait_for(2, LONG).await;
    assert_eq!(messages.len(), 2);
    assert!(messages[0].text().contains("Notice of Data Breach"));
    let pool = environment.database.pool();
    jobs_reach(pool, &id, "sent", 2).await;
    service.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_fail_the_attempt_and_send_nothing() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::builder()
        .starttls()
        .credentials("candor", "right")
        .start()
        .unwrap();
    let mut settings = config(
        &environment,
        &format!("smtp://candor:wrong@{}?tls=required", sink.addr()),
    );
    settings.smtp_ca_file = Some(sink.ca_file().unwrap());
    let service = start(settings).await;
    let id = breach(&environment, 2).await;

    let pool = environment.database.pool();
    let error = failed_attempt(pool, &id, "SMTP AUTH failed").await;
    assert!(
        !error.contains("wrong"),
        "the password is not logged: {error}"
    );
    assert!(sink.messages().is_empty());
    assert_eq!(count_jobs(pool, &id, "sent").await, 0);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn required_starttls_against_a_server_without_it_sends_nothing() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(
        &environment,
        &format!("smtp://{}?tls=required", sink.addr()),
    ))
    .await;
    let id = breach(&environment, 2).await;

    let pool = environment.database.pool();
    failed_attempt(pool, &id, "STARTTLS failed").await;
    assert!(sink.messages().is_empty(), "nothing went out in clear text");
    assert_eq!(count_jobs(pool, &id, "sent").await, 0);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::builder().implicit_tls().start().unwrap();
    // No SMTP_CA_FILE: the sink's made-up authority is not trusted.
    let service = start(config(&environment, &sink.url())).await;
    let id = breach(&environment, 1).await;

    let pool = environment.database.pool();
    failed_attempt(pool, &id, "TLS handshake failed").await;
    assert!(sink.messages().is_empty());
    service.stop().await.unwrap();
}
