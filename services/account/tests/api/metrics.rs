//! The account service's metrics endpoint: an incident's affected set and
//! lifecycle, the argon2 pool, gRPC calls; no label naming a member.

use std::time::Duration;

use candor_proto::events::v1::PasswordResetScope;
use candor_testkit::metrics::scrape;

use crate::breach::{breach, collect, observe, publish};
use crate::helpers::{PASSWORD, TestApp, eventually};

const REGISTER_OK: [(&str, &str); 4] = [
    ("grpc_service", "candor.account.v1.AccountService"),
    ("grpc_method", "Register"),
    ("grpc_type", "unary"),
    ("grpc_code", "OK"),
];

#[tokio::test]
async fn an_incident_its_affected_accounts_and_the_hashing_pool_are_scraped() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let mut members = Vec::new();
    for (email, name) in [
        ("first@example.com", "First"),
        ("second@example.com", "Second"),
        ("recent@example.com", "Recent"),
    ] {
        members.push(app.register(email, name).await);
    }
    for member in &members[..2] {
        app.set_joined_at(&member.account_id, "2010-05-01T00:00:00Z")
            .await;
    }
    app.session("first@example.com", PASSWORD).await;

    let before_intake = chrono::Utc::now();
    let incident_id = "metrics-incident-1";
    publish(
        &app.environment.broker,
        &breach(incident_id, PasswordResetScope::Affected),
    )
    .await;
    let published = collect(&app.environment.broker, &observer).await;
    assert_eq!(published.completed.affected_accounts, 2);

    let complete = [("incident", incident_id)];
    // The last batch's outbox row is marked published just after the broker
    // confirmed it, so the series may say 0 for a moment.
    let metrics = eventually(Duration::from_secs(30), "the incident complete", || async {
        let metrics = scrape(app.metrics_addr).await.expect("scrape");
        (metrics.value("candor_breach_incident_complete", &complete) == Some(1.0))
            .then_some(metrics)
    })
    .await;
    assert_eq!(
        metrics.value("candor_breach_accounts_affected", &complete),
        Some(2.0)
    );
    let started = metrics
        .value(
            "candor_breach_incident_started_timestamp_seconds",
            &complete,
        )
        .expect("the started timestamp");
    let recorded_window =
        (before_intake.timestamp() - 1) as f64..=(chrono::Utc::now().timestamp() + 1) as f64;
    assert!(recorded_window.contains(&started), "{started}");

    // Three registrations and one login: four argon2 jobs, none left.
    assert_eq!(
        metrics.value("candor_password_hash_seconds_count", &[]),
        Some(4.0)
    );
    assert_eq!(
        metrics.value("candor_password_hash_queue_length", &[]),
        Some(0.0)
    );
    assert_eq!(
        metrics.value("candor_password_hash_in_progress", &[]),
        Some(0.0)
    );
    assert_eq!(
        metrics.value("grpc_server_handled_total", &REGISTER_OK),
        Some(3.0)
    );

    let forbidden: Vec<&str> = members
        .iter()
        .flat_map(|member| [member.account_id.as_str(), member.email.as_str()])
        .collect();
    assert_eq!(metrics.labels_naming(&forbidden), Vec::<String>::new());
}
