//! ListIncidents: the recorded incidents, newest first, page by page.

use std::time::Duration;

use candor_proto::account::v1::{IncidentSummary, ListIncidentsRequest, ListIncidentsResponse};
use candor_proto::events::v1::PasswordResetScope;
use candor_testkit::environment::OPERATOR_TOKEN;
use tonic::Code;

use crate::breach::{breach, publish};
use crate::helpers::{TestApp, eventually, with_token};
use crate::intake::progress;

async fn list(
    app: &TestApp,
    page_size: u32,
    page_token: &str,
) -> Result<ListIncidentsResponse, tonic::Status> {
    app.client
        .clone()
        .list_incidents(with_token(
            OPERATOR_TOKEN,
            ListIncidentsRequest {
                page_size,
                page_token: page_token.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Publishes the incident and waits until it is recorded and enumerated.
async fn report(app: &TestApp, incident_id: &str, title: &str) {
    let mut event = breach(incident_id, PasswordResetScope::Affected);
    event.title = title.to_owned();
    publish(&app.environment.broker, &event).await;
    eventually(Duration::from_secs(30), "the incident recorded", || async {
        progress(app, incident_id)
            .await
            .ok()
            .filter(|progress| progress.complete)
    })
    .await;
}

fn ids(incidents: &[IncidentSummary]) -> Vec<&str> {
    incidents
        .iter()
        .map(|incident| incident.incident_id.as_str())
        .collect()
}

#[tokio::test]
async fn incidents_are_listed_newest_first_page_by_page() {
    let app = TestApp::spawn().await;
    assert!(list(&app, 0, "").await.unwrap().incidents.is_empty());
    // One after the other, so each is recorded after the one before.
    report(&app, "2025-01-first", "The first breach").await;
    report(&app, "2025-02-second", "The second breach").await;
    report(&app, "2025-03-third", "The third breach").await;

    let first = list(&app, 2, "").await.unwrap();
    assert_eq!(ids(&first.incidents), ["2025-03-third", "2025-02-second"]);
    assert!(!first.next_page_token.is_empty());
    let newest = &first.incidents[0];
    assert_eq!(newest.title, "The third breach");
    assert!(newest.recorded_at.is_some());
    assert!(newest.discovered_at.is_some());
    assert!(newest.enumeration_completed_at.is_some());
    assert_eq!(newest.batches_enqueued, newest.batch_count);

    let second = list(&app, 2, &first.next_page_token).await.unwrap();
    assert_eq!(ids(&second.incidents), ["2025-01-first"]);
    assert!(second.next_page_token.is_empty());

    let all = list(&app, 0, "").await.unwrap();
    assert_eq!(
        ids(&all.incidents),
        ["2025-03-third", "2025-02-second", "2025-01-first"]
    );
    assert!(all.next_page_token.is_empty());
}

#[tokio::test]
async fn a_page_token_not_issued_by_list_incidents_is_refused() {
    let app = TestApp::spawn().await;
    let refused = list(&app, 0, "bm90IGEgdG9rZW4").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("page_token"), "{refused:?}");
}
