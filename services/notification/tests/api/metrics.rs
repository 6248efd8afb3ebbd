//! The notification service's metrics endpoint: an incident's notices by
//! state and its lifecycle, what the sender delivered, the SMTP
//! transactions and the configured rate; no label naming a member.

use std::time::Duration;

use candor_proto::notification::v1::GetIncidentProgressRequest;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::metrics::scrape;
use candor_testkit::smtp::{Refusal, SmtpSink};

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

const PROGRESS_OK: [(&str, &str); 4] = [
    ("grpc_service", "candor.notification.v1.NotificationService"),
    ("grpc_method", "GetIncidentProgress"),
    ("grpc_type", "unary"),
    ("grpc_code", "OK"),
];

#[tokio::test]
async fn an_incidents_notices_by_state_and_its_smtp_transactions_are_scraped() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.send_rate_per_second = 50.0;
    let (service, metrics_addr) = start_with_metrics(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(5);
    sink.refuse(&affected[0].email, Refusal::Permanent);
    let pool = environment.database.pool();

    let before_intake = chrono::Utc::now();
    publish(&environment, &incident).await;
    // Deactivated before its batch: its notice is suppressed, never sent.
    publish(&environment, &deactivated(&affected[1].account_id)).await;
    deactivation_recorded(pool, &affected[1].account_id).await;
    publish(&environment, &batch(&id, 1, &affected)).await;
    publish(&environment, &enumeration_completed(&id, 5, 1)).await;

    let incident_label = [("incident", id.as_str())];
    let metrics = eventually(LONG, "the incident complete", || async {
        let metrics = scrape(metrics_addr).await.expect("scrape");
        (metrics.value("candor_breach_incident_complete", &incident_label) == Some(1.0))
            .then_some(metrics)
    })
    .await;
    let notices = |state: &str| {
        metrics.value(
            "candor_breach_notices",
            &[("incident", id.as_str()), ("state", state)],
        )
    };
    assert_eq!(notices("delivered"), Some(3.0));
    assert_eq!(notices("failed"), Some(1.0));
    assert_eq!(notices("suppressed"), Some(1.0));
    for state in ["pending", "sending", "retrying"] {
        assert_eq!(notices(state), Some(0.0), "{state}");
    }
    assert_eq!(
        metrics.value("candor_breach_notices_possibly_resent", &incident_label),
        Some(0.0)
    );
    // Five notices at 50 a second.
    assert_eq!(
        metrics.value(
            "candor_breach_notices_expected_duration_seconds",
            &incident_label
        ),
        Some(0.1)
    );
    let started = metrics
        .value(
            "candor_breach_incident_started_timestamp_seconds",
            &incident_label,
        )
        .expect("the started timestamp");
    let recorded_window =
        (before_intake.timestamp() - 1) as f64..=(chrono::Utc::now().timestamp() + 1) as f64;
    assert!(recorded_window.contains(&started), "{started}");

    assert_eq!(
        metrics.value("candor_notification_notices_sent_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        metrics.value(
            "candor_notification_notices_failed_total",
            &[("failure_class", "refused")]
        ),
        Some(1.0)
    );
    for class in ["retries_exhausted", "unsendable"] {
        assert_eq!(
            metrics.value(
                "candor_notification_notices_failed_total",
                &[("failure_class", class)]
            ),
            Some(0.0),
            "{class}"
        );
    }
    assert_eq!(
        metrics.value("candor_notification_send_rate_limit_per_second", &[]),
        Some(50.0)
    );
    assert_eq!(
        metrics.value(
            "candor_smtp_transaction_seconds_count",
            &[("outcome", "accepted")]
        ),
        Some(3.0)
    );
    assert_eq!(
        metrics.value(
            "candor_smtp_transaction_seconds_count",
            &[("outcome", "rejected")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metrics.value(
            "candor_smtp_transaction_seconds_count",
            &[("outcome", "failed")]
        ),
        Some(0.0)
    );
    let connections = metrics
        .value("candor_smtp_connections", &[])
        .expect("open SMTP connections");
    assert!(
        (1.0..=4.0).contains(&connections),
        "between one and SMTP_CONCURRENCY connections stay open: {connections}"
    );

    let progress = client(&service)
        .await
        .get_incident_progress(as_operator(GetIncidentProgressRequest {
            incident_id: id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(progress.settled, "{progress:?}");
    let metrics = scrape(metrics_addr).await.expect("scrape");
    assert_eq!(
        metrics.value("grpc_server_handled_total", &PROGRESS_OK),
        Some(1.0)
    );
    let forbidden: Vec<&str> = affected
        .iter()
        .flat_map(|account| [account.account_id.as_str(), account.email.as_str()])
        .collect();
    assert_eq!(metrics.labels_naming(&forbidden), Vec::<String>::new());
    service.stop().await.unwrap();
}
