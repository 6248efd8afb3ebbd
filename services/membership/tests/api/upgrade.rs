//! An upgrade of a running deployment: batches parked by the release before
//! incident parking moved to the platform are moved, not lost, and applied
//! when their incident is reported.

use crate::helpers::{TestApp, accounts, incident_id, lifetime_compensation};

const MOVE_PARKED_BATCHES: &str =
    include_str!("../../migrations/20260301000000_parked_batches_to_platform.sql");

#[tokio::test]
async fn batches_parked_by_the_previous_release_are_applied_after_the_upgrade() {
    let mut app = TestApp::spawn().await;
    app.stop().await;
    // The previous release's table, with two batches waiting in it.
    let incident = incident_id();
    let accounts = accounts(5);
    sqlx::raw_sql(
        "CREATE TABLE parked_batches (
             incident_id text NOT NULL,
             batch_sequence integer NOT NULL,
             account_ids uuid[] NOT NULL,
             parked_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (incident_id, batch_sequence))",
    )
    .execute(app.pool())
    .await
    .unwrap();
    for (sequence, ids) in [(1, &accounts[..3]), (2, &accounts[3..])] {
        sqlx::query(
            "INSERT INTO parked_batches (incident_id, batch_sequence, account_ids) VALUES ($1, $2, $3)",
        )
        .bind(&incident)
        .bind(sequence)
        .bind(ids)
        .execute(app.pool())
        .await
        .unwrap();
    }

    sqlx::raw_sql(MOVE_PARKED_BATCHES)
        .execute(app.pool())
        .await
        .unwrap();
    let moved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM candor_parked_messages WHERE incident_id = $1")
            .bind(&incident)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(moved, 2);

    app.start().await;
    app.publish_enumeration(&incident, 5, 2).await;
    app.publish_breach(&incident, lifetime_compensation()).await;
    let progress = app.wait_until_complete(&incident).await;
    assert_eq!(progress.credited, 5);
    assert_eq!(progress.batches_processed, 2);
    assert_eq!(app.compensation_entries(&incident).await, 5);
    app.stop().await;
}
