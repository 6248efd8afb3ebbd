//! Breach compensation from the queue: exactly once per (incident, account)
//! whatever the delivery order, repetition or crashes.

use std::time::Duration;

use candor_proto::events::v1::{Compensation, CompensationKind};
use candor_proto::membership::v1::{CreditKind, Tier};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn every_account_is_credited_once_when_batches_repeat_and_arrive_out_of_order() {
    let app = TestApp::spawn().await;
    let incident = incident_id();
    let accounts = accounts(30);
    let batches: Vec<&[Uuid]> = accounts.chunks(10).collect();

    app.publish_breach(&incident, lifetime_compensation()).await;
    for sequence in [3u32, 1, 2, 2, 3, 1] {
        app.publish_batch(&incident, sequence, batches[sequence as usize - 1])
            .await;
    }
    app.publish_enumeration(&incident, 30, 3).await;
    // The same incident published again changes nothing.
    app.publish_breach(&incident, lifetime_compensation()).await;

    let progress = app.wait_until_complete(&incident).await;
    assert_eq!(progress.credited, 30);
    assert_eq!(progress.already_lifetime, 0);
    assert_eq!(progress.skipped, 0);
    assert_eq!(progress.expected_total, 30);
    assert_eq!(progress.batches_processed, 3);
    assert!(progress.incident_known);
    assert!(progress.first_credited_at.is_some());
    assert!(progress.completed_at.is_some());
    assert_eq!(
        progress.compensation.as_ref().map(|c| c.value_minor_units),
        Some(2500)
    );

    // The redelivered batches may still be in flight: give them time, then
    // count what was committed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.compensation_entries(&incident).await, 30);
    for account in &accounts {
        let credits = app.credits_of(*account).await;
        assert_eq!(credits.len(), 1, "one entry for {account}");
        let credit = &credits[0];
        assert_eq!(credit.kind(), CreditKind::LifetimeMembership);
        assert_eq!(credit.value.as_ref().unwrap().value_minor_units, 2500);
        assert_eq!(credit.value.as_ref().unwrap().currency, "USD");
        assert_eq!(credit.incident_id, incident);
        assert_eq!(
            credit.idempotency_key,
            format!("incident:{incident}:{account}")
        );
        assert_eq!(credit.tier_after(), Tier::Lifetime);
        let membership = app.membership(*account).await;
        assert_eq!(membership.tier(), Tier::Lifetime);
        assert!(membership.tier_since.is_some());
    }
}

#[tokio::test]
async fn batches_before_the_breach_are_parked_then_applied_without_dead_letters() {
    let mut app = TestApp::spawn().await;
    let incident = incident_id();
    let accounts = accounts(8);
    app.publish_batch(&incident, 1, &accounts[..4]).await;
    app.publish_batch(&incident, 2, &accounts[4..]).await;
    app.publish_enumeration(&incident, 8, 2).await;

    let parked = eventually("both batches are parked", || async {
        let parked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM candor_parked_messages WHERE incident_id = $1",
        )
        .bind(&incident)
        .fetch_one(app.pool())
        .await
        .unwrap();
        Some(parked).filter(|count| *count == 2)
    })
    .await;
    assert_eq!(parked, 2);
    // EnumerationCompleted may be handled after the batches (the consumer
    // runs messages concurrently); wait for it rather than race it.
    eventually("the enumeration totals are recorded", || async {
        let recorded: Option<bool> = sqlx::query_scalar(
            "SELECT enumeration_completed_at IS NOT NULL FROM incidents WHERE incident_id = $1",
        )
        .bind(&incident)
        .fetch_optional(app.pool())
        .await
        .unwrap();
        recorded.filter(|recorded| *recorded)
    })
    .await;
    let unknown = app.progress(&incident).await.unwrap_err();
    assert_eq!(
        unknown.code(),
        tonic::Code::NotFound,
        "no guessing before breach.reported"
    );
    assert_eq!(app.compensation_entries(&incident).await, 0);

    app.publish_breach(&incident, lifetime_compensation()).await;
    let progress = app.wait_until_complete(&incident).await;
    assert_eq!(progress.credited, 8);
    assert_eq!(progress.batches_processed, 2);
    assert_eq!(app.compensation_entries(&incident).await, 8);
    // A parked row is removed right after its batch's transaction commits.
    eventually("no batch is left parked", || async {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM candor_parked_messages")
            .fetch_one(app.pool())
            .await
            .unwrap();
        (left == 0).then_some(())
    })
    .await;

    app.stop().await;
    let dead_letters = app
        .environment
        .broker
        .topology()
        .dead_letter_queue_name("membership");
    assert!(
        app.environment
            .broker
            .get(&dead_letters)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_crash_mid_batch_writes_nothing_and_the_redelivery_credits_once() {
    let mut app = TestApp::without_service().await;
    let incident = incident_id();
    let accounts = accounts(20);
    // Hold one account's membership row so the batch's transaction blocks
    // half way (after its statement started, before it could commit).
    let blocker = accounts[7];
    // A first start creates the schema.
    app.start().await;
    app.stop().await;
    sqlx::query("INSERT INTO memberships (account_id, tier) VALUES ($1, 1)")
        .bind(blocker)
        .execute(app.pool())
        .await
        .unwrap();
    let mut lock = app.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM memberships WHERE account_id = $1 FOR UPDATE")
        .bind(blocker)
        .execute(&mut *lock)
        .await
        .unwrap();

    app.publish_breach(&incident, lifetime_compensation()).await;
    app.publish_batch(&incident, 1, &accounts).await;
    let process = app
        .environment
        .binary(env!("CARGO_BIN_EXE_candor-membership"))
        .env("GRPC_ADDR", "127.0.0.1:0")
        .spawn()
        .unwrap();
    let database = app.environment.database.name().to_owned();
    eventually("the batch waits on the held row", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%compensation_kind AS kind%'",
        )
        .bind(&database)
        .fetch_one(app.pool())
        .await
        .unwrap();
        Some(()).filter(|()| waiting > 0)
    })
    .await;
    // Crash: SIGKILL, no draining.
    drop(process);
    lock.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.compensation_entries(&incident).await,
        0,
        "nothing half written"
    );

    app.start().await;
    app.publish_enumeration(&incident, 20, 1).await;
    let progress = app.wait_until_complete(&incident).await;
    assert_eq!(progress.credited, 20);
    assert_eq!(app.compensation_entries(&incident).await, 20);
}

#[tokio::test]
async fn an_already_lifetime_account_gets_a_lifetime_already_held_entry() {
    let app = TestApp::spawn().await;
    let incident = incident_id();
    let accounts = accounts(3);
    let lifetime = accounts[1];
    app.grant(grant_request(
        "before-breach",
        lifetime,
        CreditKind::LifetimeMembership,
    ))
    .await
    .unwrap();

    app.publish_breach(&incident, lifetime_compensation()).await;
    app.publish_batch(&incident, 1, &accounts).await;
    app.publish_enumeration(&incident, 3, 1).await;
    let progress = app.wait_until_complete(&incident).await;
    assert_eq!(progress.credited, 2);
    assert_eq!(progress.already_lifetime, 1);
    assert_eq!(progress.skipped, 0);

    let credits = app.credits_of(lifetime).await;
    assert_eq!(credits.len(), 2);
    let held = &credits[0];
    assert_eq!(held.kind(), CreditKind::LifetimeAlreadyHeld);
    assert_eq!(held.value.as_ref().unwrap().value_minor_units, 0);
    assert_eq!(held.value.as_ref().unwrap().currency, "USD");
    assert_eq!(held.incident_id, incident);
    assert_eq!(held.tier_after(), Tier::Lifetime);
    // The tier began with the first grant and did not restart.
    let membership = app.membership(lifetime).await;
    assert_eq!(membership.tier(), Tier::Lifetime);
    assert_eq!(membership.tier_since, credits[1].created_at);
}

#[tokio::test]
async fn a_deactivated_account_gets_nothing_further_but_keeps_its_ledger() {
    let app = TestApp::spawn().await;
    let incident = incident_id();
    let accounts = accounts(3);
    let leaving = accounts[0];
    app.grant(grant_request("earlier", leaving, CreditKind::AccountCredit))
        .await
        .unwrap();
    app.publish_deactivated(leaving).await;
    eventually("the membership is closed", || async {
        let membership = app.membership(leaving).await;
        membership.closed.then_some(membership)
    })
    .await;

    app.publish_breach(&incident, lifetime_compensation()).await;
    app.publish_batch(&incident, 1, &accounts).await;
    app.publish_enumeration(&incident, 3, 1).await;
    let progress = app.wait_until_complete(&incident).await;
    assert_eq!(progress.credited, 2);
    assert_eq!(progress.skipped, 1);

    let credits = app.credits_of(leaving).await;
    assert_eq!(credits.len(), 1, "the earlier entry stays, nothing new");
    assert_eq!(credits[0].kind(), CreditKind::AccountCredit);
    let membership = app.membership(leaving).await;
    assert_eq!(membership.tier(), Tier::Free);
    assert!(membership.closed_at.is_some());

    let refused = app
        .grant(grant_request(
            "after-close",
            leaving,
            CreditKind::AccountCredit,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn account_credit_and_paid_compensation_move_balances_and_paid_periods() {
    let app = TestApp::spawn().await;
    let accounts = accounts(2);
    let credit_incident = incident_id();
    app.publish_breach(
        &credit_incident,
        Compensation {
            kind: CompensationKind::AccountCredit as i32,
            value_minor_units: 500,
            currency: "EUR".to_owned(),
            ..Compensation::default()
        },
    )
    .await;
    app.publish_batch(&credit_incident, 1, &accounts).await;
    app.publish_enumeration(&credit_incident, 2, 1).await;
    app.wait_until_complete(&credit_incident).await;

    let paid_incident = incident_id();
    app.publish_breach(
        &paid_incident,
        Compensation {
            kind: CompensationKind::PaidMembership as i32,
            duration_days: 90,
            ..Compensation::default()
        },
    )
    .await;
    app.publish_batch(&paid_incident, 1, &accounts).await;
    app.publish_enumeration(&paid_incident, 2, 1).await;
    app.wait_until_complete(&paid_incident).await;

    let none_incident = incident_id();
    app.publish_breach(
        &none_incident,
        Compensation {
            kind: CompensationKind::None as i32,
            ..Compensation::default()
        },
    )
    .await;
    app.publish_batch(&none_incident, 1, &accounts).await;
    app.publish_enumeration(&none_incident, 2, 1).await;
    let progress = app.wait_until_complete(&none_incident).await;
    assert_eq!(progress.skipped, 2, "NONE gives nothing");
    assert_eq!(app.compensation_entries(&none_incident).await, 0);

    for account in accounts {
        let membership = app.membership(account).await;
        assert_eq!(membership.tier(), Tier::Paid);
        let since = membership.tier_since.unwrap().seconds;
        let until = membership.paid_until.unwrap().seconds;
        assert_eq!(until - since, 90 * 86_400);
        assert_eq!(membership.balances.len(), 1);
        assert_eq!(membership.balances[0].currency, "EUR");
        assert_eq!(membership.balances[0].value_minor_units, 500);
    }
}

#[tokio::test]
async fn an_invalid_batch_is_dead_lettered_with_its_reason() {
    let app = TestApp::spawn().await;
    let mut bad = batch(&incident_id(), 1, &accounts(2));
    bad.accounts[1].account_id = "not-a-uuid".to_owned();
    app.publish(&bad).await;
    let dead = app
        .environment
        .broker
        .wait_for_dead_letters("membership", 1, PATIENCE)
        .await
        .unwrap();
    let reason = dead[0].header("x-candor-error").unwrap();
    assert!(reason.contains("accounts[1].account_id"), "{reason}");
}

#[tokio::test]
async fn progress_of_an_unknown_incident_is_not_found() {
    let app = TestApp::spawn().await;
    let unknown = app.progress("never-reported").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(unknown.message().contains("never-reported"), "{unknown:?}");
}
