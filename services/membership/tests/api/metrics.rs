//! The membership service's metrics endpoint: an incident's credits granted
//! and expected and its lifecycle, gRPC calls; no label naming a member.

use candor_testkit::metrics::{Scrape, scrape};

use crate::helpers::*;

const PROGRESS_OK: [(&str, &str); 4] = [
    ("grpc_service", "candor.membership.v1.MembershipService"),
    ("grpc_method", "GetIncidentProgress"),
    ("grpc_type", "unary"),
    ("grpc_code", "OK"),
];

impl TestApp {
    /// A scrape of the running service's metrics once `ready` holds.
    async fn metrics_when(&self, what: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
        let addr = self.metrics_addr.expect("the tests serve metrics");
        eventually(what, || async {
            let metrics = scrape(addr).await.expect("scrape");
            ready(&metrics).then_some(metrics)
        })
        .await
    }
}

#[tokio::test]
async fn an_incidents_credits_granted_and_expected_are_scraped_until_complete() {
    let app = TestApp::spawn().await;
    let incident = incident_id();
    let label = [("incident", incident.as_str())];
    let accounts = accounts(5);
    let before_intake = chrono::Utc::now();
    app.publish_breach(&incident, lifetime_compensation()).await;
    app.publish_enumeration(&incident, 5, 2).await;
    app.publish_batch(&incident, 1, &accounts[..3]).await;

    let metrics = app
        .metrics_when("the first batch credited and the total known", |metrics| {
            metrics.value("candor_breach_credits_granted", &label) == Some(3.0)
                && metrics.value("candor_breach_credits_expected", &label) == Some(5.0)
        })
        .await;
    assert_eq!(
        metrics.value("candor_breach_incident_complete", &label),
        Some(0.0)
    );
    let started = metrics
        .value("candor_breach_incident_started_timestamp_seconds", &label)
        .expect("the started timestamp");
    let recorded_window =
        (before_intake.timestamp() - 1) as f64..=(chrono::Utc::now().timestamp() + 1) as f64;
    assert!(recorded_window.contains(&started), "{started}");

    app.publish_batch(&incident, 2, &accounts[3..]).await;
    let metrics = app
        .metrics_when("the incident complete", |metrics| {
            metrics.value("candor_breach_incident_complete", &label) == Some(1.0)
        })
        .await;
    assert_eq!(
        metrics.value("candor_breach_credits_granted", &label),
        Some(5.0)
    );
    assert_eq!(
        metrics.value("candor_breach_credits_expected", &label),
        Some(5.0)
    );

    let progress = app.progress(&incident).await.unwrap();
    assert!(progress.complete, "{progress:?}");
    let metrics = scrape(app.metrics_addr.unwrap()).await.expect("scrape");
    assert_eq!(
        metrics.value("grpc_server_handled_total", &PROGRESS_OK),
        Some(1.0)
    );
    let ids: Vec<String> = accounts.iter().map(ToString::to_string).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(metrics.labels_naming(&ids), Vec::<String>::new());
}
