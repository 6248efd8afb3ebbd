//! An upgrade of a running deployment: batches parked by the release before
//! incident parking moved to the platform are moved, not lost, and become
//! notices when their incident is reported.

use std::time::Duration;

use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;
use prost::Message as _;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

const MOVE_PARKED_BATCHES: &str =
    include_str!("../../migrations/20260301000000_parked_batches_to_platform.sql");

#[tokio::test]
async fn batches_parked_by_the_previous_release_are_sent_after_the_upgrade() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    // Migrates the database to this release, then stops.
    start(settings.clone()).await.stop().await.unwrap();
    let pool = environment.database.pool();
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(3);
    // The previous release's table, with one batch waiting in it.
    sqlx::raw_sql(
        "CREATE TABLE parked_batches (
             incident_id text NOT NULL,
             batch_sequence integer NOT NULL,
             batch bytea NOT NULL,
             parked_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (incident_id, batch_sequence))",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO parked_batches (incident_id, batch_sequence, batch) VALUES ($1, 1, $2)",
    )
    .bind(&id)
    .bind(batch(&id, 1, &affected).encode_to_vec())
    .execute(pool)
    .await
    .unwrap();

    sqlx::raw_sql(MOVE_PARKED_BATCHES)
        .execute(pool)
        .await
        .unwrap();
    let moved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM candor_parked_messages WHERE incident_id = $1")
            .bind(&id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(moved, 1);

    let service = start(settings).await;
    publish(&environment, &incident).await;
    let messages = sink.wait_for(3, LONG).await;
    assert_eq!(messages.len(), 3);
    for account in &affected {
        assert_eq!(sink.messages_to(&account.email).len(), 1);
    }
    service.stop().await.unwrap();
}
