//! The forum's metrics endpoint: each incident's thread opened and its
//! lifecycle, gRPC calls.

use candor_testkit::metrics::scrape;

use crate::support::breach;
use crate::support::forum::TestForum;

const GET_INCIDENT_THREAD_OK: [(&str, &str); 4] = [
    ("grpc_service", "candor.forum.v1.ForumService"),
    ("grpc_method", "GetIncidentThread"),
    ("grpc_type", "unary"),
    ("grpc_code", "OK"),
];

#[tokio::test]
async fn an_incident_shows_once_its_thread_is_open() {
    let forum = TestForum::start().await;
    let incident = "2025-05-metrics";
    let label = [("incident", incident)];
    let before = scrape(forum.metrics_addr).await.expect("scrape");
    assert_eq!(before.value("candor_breach_thread_opened", &label), None);

    forum.publish_breach(&breach::example(incident)).await;
    let thread = forum.wait_for_incident_thread(incident).await;

    let metrics = scrape(forum.metrics_addr).await.expect("scrape");
    assert_eq!(
        metrics.value("candor_breach_thread_opened", &label),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("candor_breach_incident_complete", &label),
        Some(1.0)
    );
    let opened_at = thread.created_at.expect("the thread's opening time");
    let started = metrics
        .value("candor_breach_incident_started_timestamp_seconds", &label)
        .expect("the started timestamp");
    let opened = opened_at.seconds as f64 + f64::from(opened_at.nanos) / 1e9;
    assert!((started - opened).abs() < 0.001, "{started} vs {opened}");
    // wait_for_incident_thread returns on the first OK.
    assert_eq!(
        metrics.value("grpc_server_handled_total", &GET_INCIDENT_THREAD_OK),
        Some(1.0)
    );
    assert_eq!(metrics.labels_naming(&[]), Vec::<String>::new());
}
