//! Breach intake: the exact affected set, idempotency, dead-lettering, the
//! outbox after a crash, and the password rule of each scope.

use candor_platform::service::ServiceApp as _;
use std::time::Duration;

use candor_account::App;
use candor_account::consumers::BreachIntake;
use candor_platform::messaging::HandlerError;
use candor_proto::account::v1::*;
use candor_proto::events::v1::PasswordResetScope;
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use tonic::Code;

use crate::breach::{breach, collect, observe, publish};
use crate::helpers::{
    NotificationDouble, OTHER_PASSWORD, PASSWORD, TestApp, config, token_of, with_token,
};

/// GetIncidentProgress as the operator; NOT_FOUND until recorded.
pub(crate) async fn progress(
    app: &TestApp,
    incident_id: &str,
) -> Result<GetIncidentProgressResponse, tonic::Status> {
    app.client
        .clone()
        .get_incident_progress(with_token(
            OPERATOR_TOKEN,
            GetIncidentProgressRequest {
                incident_id: incident_id.to_owned(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn the_affected_set_is_exactly_who_joined_before_the_cutoff_and_active() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let affected = app.register("old@example.com", "Old").await;
    let recent = app.register("recent@example.com", "Recent").await;
    let no_email = app.register("gone@example.com", "No Email").await;
    let deactivated = app.register("left@example.com", "Left").await;
    for account in [&affected, &no_email, &deactivated] {
        app.set_joined_at(&account.account_id, "2010-05-01T00:00:00Z")
            .await;
    }
    // Exactly at the cutoff is not "before" it.
    app.set_joined_at(&recent.account_id, "2011-11-01T00:00:00Z")
        .await;
    sqlx::query("UPDATE accounts SET email = NULL WHERE account_id = $1::uuid")
        .bind(&no_email.account_id)
        .execute(app.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE accounts SET deactivated_at = now(), email = NULL, display_name = NULL WHERE account_id = $1::uuid")
        .bind(&deactivated.account_id)
        .execute(app.pool())
        .await
        .unwrap();
    let old_session = app.session("old@example.com", PASSWORD).await;

    let dry_run = app
        .client
        .clone()
        .count_affected_accounts(with_token(
            OPERATOR_TOKEN,
            CountAffectedAccountsRequest {
                affected_joined_before: breach("x", PasswordResetScope::Affected)
                    .affected_joined_before,
                password_reset_scope: PasswordResetScope::Affected as i32,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // Since API 1.1.0 a member without an email address is affected too.
    assert_eq!(dry_run.affected_accounts, 2);
    assert_eq!(dry_run.without_email, 1);
    #[allow(deprecated)]
    let excluded_without_email = dry_run.excluded_without_email;
    assert_eq!(excluded_without_email, 0);
    assert_eq!(dry_run.excluded_deactivated, 1);
    let unknown = progress(&app, "2025-05-backup").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
    assert!(unknown.message().contains("2025-05-backup"), "{unknown:?}");

    publish(
        &app.environment.broker,
        &breach("2025-05-backup", PasswordResetScope::Affected),
    )
    .await;
    let published = collect(&app.environment.broker, &observer).await;
    assert_eq!(published.completed.affected_accounts, 2);
    assert_eq!(published.completed.batch_count, 1);
    assert_eq!(published.completed.passwords_invalidated, 2);
    assert_eq!(published.completed.other_accounts_change_required, 0);
    assert_eq!(published.completed.sessions_revoked, 1);
    let batch = &published.batches[&1];
    assert_eq!(batch.accounts.len(), 2);
    let old = batch
        .accounts
        .iter()
        .find(|account| account.account_id == affected.account_id)
        .unwrap();
    assert_eq!(old.email, "old@example.com");
    assert_eq!(old.display_name, "Old");
    let without = batch
        .accounts
        .iter()
        .find(|account| account.account_id == no_email.account_id)
        .unwrap();
    assert_eq!(without.email, "");
    assert_eq!(without.display_name, "No Email");

    // The affected password stops working and the session is gone; others log in.
    assert_eq!(
        app.validate(&old_session.session_token)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        app.login("old@example.com", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        app.account(&affected.account_id).await.password_state,
        PasswordState::ResetRequired as i32
    );
    app.session("recent@example.com", PASSWORD).await;

    let listed = app.affected_accounts("2025-05-backup").await;
    assert_eq!(listed.total_size, 2);
    assert_eq!(listed.accounts[0].batch_sequence, 1);
    assert!(listed.next_page_token.is_empty());

    let progress =
        crate::helpers::eventually(Duration::from_secs(30), "complete progress", || async {
            progress(&app, "2025-05-backup")
                .await
                .ok()
                .filter(|progress| progress.complete)
        })
        .await;
    assert_eq!(progress.affected_accounts, 2);
    assert_eq!(progress.affected_without_email, 1);
    assert_eq!(progress.in_app_notices, 1);
    assert_eq!(progress.batches_published, 1);
    assert_eq!(progress.batch_count, 1);
    assert_eq!(progress.incident.unwrap().incident_id, "2025-05-backup");
}

#[tokio::test]
async fn the_same_incident_twice_changes_nothing_and_a_conflicting_reuse_is_refused() {
    let environment = TestEnvironment::new().await.unwrap();
    let app = App::build(config(&environment, "http://127.0.0.1:9"))
        .await
        .unwrap();
    let pool = app.pool().clone();
    sqlx::query(
        "INSERT INTO accounts (account_id, email, display_name, joined_at)
         SELECT gen_random_uuid(), 'member' || n || '@example.com', 'Member ' || n, '2010-01-01'
         FROM generate_series(1, 20) n",
    )
    .execute(&pool)
    .await
    .unwrap();
    let intake = BreachIntake::new(pool.clone());
    let event = breach("twice", PasswordResetScope::Affected);
    intake.process(event.clone()).await.unwrap();
    let outbox_rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM candor_outbox")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(outbox_rows().await, 2, "one batch and EnumerationCompleted");
    intake.process(event.clone()).await.unwrap();
    assert_eq!(outbox_rows().await, 2, "a second publish changes nothing");

    let mut conflicting = event.clone();
    conflicting.title = "A different title".to_owned();
    let error = intake.process(conflicting).await.unwrap_err();
    assert!(matches!(error, HandlerError::Invalid(_)), "{error:?}");
    assert_eq!(outbox_rows().await, 2);

    let mut invalid = breach("invalid", PasswordResetScope::Affected);
    invalid.affected_joined_before = None;
    let error = intake.process(invalid).await.unwrap_err();
    assert!(matches!(error, HandlerError::Invalid(_)), "{error:?}");
    let incidents: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(incidents, 1, "an invalid event records nothing");
}

#[tokio::test]
async fn a_malformed_event_and_a_conflicting_reuse_are_dead_lettered() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let broker = &app.environment.broker;
    let event = breach("reused", PasswordResetScope::None);
    publish(broker, &event).await;
    collect(broker, &observer).await;

    broker
        .publish_raw(
            candor_proto::events::v1::BREACH_REPORTED,
            Some("application/json"),
            b"{not json",
        )
        .await
        .unwrap();
    let mut conflicting = event.clone();
    conflicting.summary = "Something else entirely.".to_owned();
    publish(broker, &conflicting).await;
    let dead = broker
        .wait_for_dead_letters("account", 2, Duration::from_secs(60))
        .await
        .unwrap();
    let reasons: Vec<String> = dead
        .iter()
        .map(|message| message.header("x-candor-error").unwrap_or_default())
        .collect();
    assert!(
        reasons.iter().any(|reason| reason.contains("conflict")),
        "{reasons:?}"
    );
    let progress = progress(&app, "reused").await.unwrap();
    assert_eq!(
        progress.incident.unwrap().summary,
        event.summary,
        "the first content stays"
    );
}

#[tokio::test]
async fn get_incident_returns_the_first_recorded_content_or_not_found() {
    let app = TestApp::spawn().await;
    let get = |incident_id: &str| {
        let mut client = app.client.clone();
        let request = GetIncidentRequest {
            incident_id: incident_id.to_owned(),
        };
        async move {
            client
                .get_incident(with_token(OPERATOR_TOKEN, request))
                .await
        }
    };
    let missing = get("never-reported").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let invalid = get("").await.unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument, "{invalid:?}");
    assert!(invalid.message().contains("incident_id"), "{invalid:?}");

    let intake = BreachIntake::new(app.pool().clone());
    let event = breach("recorded", PasswordResetScope::Affected);
    intake.process(event.clone()).await.unwrap();
    let mut conflicting = event.clone();
    conflicting.title = "Another title".to_owned();
    intake.process(conflicting).await.unwrap_err();

    let recorded = get("recorded").await.unwrap().into_inner();
    assert_eq!(recorded.incident, Some(event), "the first content, exactly");
    assert!(recorded.recorded_at.is_some());
}

#[tokio::test]
async fn a_crash_between_commit_and_publish_is_recovered_by_the_outbox() {
    let environment = TestEnvironment::new().await.unwrap();
    let notifications = NotificationDouble::start().await;
    let app = App::build(config(&environment, &notifications.url))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO accounts (account_id, email, display_name, joined_at)
         SELECT gen_random_uuid(), 'member' || n || '@example.com', 'Member ' || n, '2010-01-01'
         FROM generate_series(1, 1201) n",
    )
    .execute(app.pool())
    .await
    .unwrap();
    // The intake commits everything to the outbox, then the process "dies"
    // before its relay published anything.
    BreachIntake::new(app.pool().clone())
        .process(breach("crash", PasswordResetScope::Affected))
        .await
        .unwrap();
    drop(app);

    let observer = observe(&environment.broker).await;
    let config = config(&environment, &notifications.url);
    let app = TestApp::start(environment, notifications, config).await;
    let published = collect(&app.environment.broker, &observer).await;
    assert_eq!(published.completed.affected_accounts, 1201);
    assert_eq!(published.completed.batch_count, 3);
    let sizes: Vec<usize> = published
        .batches
        .values()
        .map(|batch| batch.accounts.len())
        .collect();
    assert_eq!(sizes, vec![500, 500, 201]);
    let mut ids: Vec<&str> = published
        .batches
        .values()
        .flat_map(|batch| {
            batch
                .accounts
                .iter()
                .map(|account| account.account_id.as_str())
        })
        .collect();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total, "ordered by account_id without duplicates");
}

#[tokio::test]
async fn scope_all_forces_a_reset_on_affected_members_and_a_change_on_the_others() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let affected = app.register("old@example.com", "Old").await;
    app.register("new@example.com", "New").await;
    app.set_joined_at(&affected.account_id, "2010-05-01T00:00:00Z")
        .await;

    publish(
        &app.environment.broker,
        &breach("everyone", PasswordResetScope::All),
    )
    .await;
    let published = collect(&app.environment.broker, &observer).await;
    assert_eq!(published.completed.affected_accounts, 1);
    assert_eq!(published.completed.other_accounts_change_required, 1);

    // The other member: the password proves identity once, for a change token.
    let change = match app
        .login("new@example.com", PASSWORD)
        .await
        .unwrap()
        .result
        .unwrap()
    {
        login_response::Result::PasswordChangeRequired(change) => change,
        other => panic!("expected a password change token, got {other:?}"),
    };
    assert_eq!(
        app.validate(&change.password_change_token)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound,
        "the change token is no session"
    );
    let changed = app
        .client
        .clone()
        .change_password(with_token(
            &change.password_change_token,
            ChangePasswordRequest {
                current_password: PASSWORD.to_owned(),
                new_password: OTHER_PASSWORD.to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    app.validate(&changed.session.unwrap().session_token)
        .await
        .unwrap();
    app.session("new@example.com", OTHER_PASSWORD).await;

    // The affected member resets by email.
    assert_eq!(
        app.login("old@example.com", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    app.client
        .clone()
        .request_password_reset(RequestPasswordResetRequest {
            email: "old@example.com".to_owned(),
        })
        .await
        .unwrap();
    // The first email told the other member their password changed.
    let calls = app.notifications.wait_for(2).await;
    let Some(candor_proto::notification::v1::send_email_request::Content::PasswordReset(email)) =
        &calls[1].1.content
    else {
        panic!("expected a password reset email");
    };
    app.client
        .clone()
        .reset_password(ResetPasswordRequest {
            reset_token: token_of(&email.reset_url),
            new_password: OTHER_PASSWORD.to_owned(),
        })
        .await
        .unwrap();
    app.session("old@example.com", OTHER_PASSWORD).await;
    let progress = progress(&app, "everyone").await.unwrap();
    assert_eq!(progress.passwords_reset_since, 1);
}

#[tokio::test]
async fn deactivation_erases_the_frozen_copy_in_every_incident() {
    let app = TestApp::spawn().await;
    let leaving = app.register("old@example.com", "Old").await;
    let staying = app.register("stays@example.com", "Stays").await;
    for account in [&leaving, &staying] {
        app.set_joined_at(&account.account_id, "2010-05-01T00:00:00Z")
            .await;
    }
    // Scope none keeps the password working for the deactivation below.
    let intake = BreachIntake::new(app.pool().clone());
    for incident in ["first", "second"] {
        intake
            .process(breach(incident, PasswordResetScope::None))
            .await
            .unwrap();
    }

    let session = app.session("old@example.com", PASSWORD).await;
    app.client
        .clone()
        .request_deactivation(with_token(
            &session.session_token,
            RequestDeactivationRequest {},
        ))
        .await
        .unwrap();
    let calls = app.notifications.wait_for(1).await;
    let Some(
        candor_proto::notification::v1::send_email_request::Content::DeactivationConfirmation(
            email,
        ),
    ) = &calls[0].1.content
    else {
        panic!("expected a deactivation confirmation email");
    };
    app.client
        .clone()
        .confirm_deactivation(ConfirmDeactivationRequest {
            deactivation_token: token_of(&email.confirmation_url),
        })
        .await
        .unwrap();

    let copies: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT account_id::text, email, display_name FROM incident_accounts
         ORDER BY incident_id, email",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    let erased = (leaving.account_id.clone(), String::new(), String::new());
    let kept = (
        staying.account_id.clone(),
        "stays@example.com".to_owned(),
        "Stays".to_owned(),
    );
    assert_eq!(copies, vec![erased.clone(), kept.clone(), erased, kept]);
}
