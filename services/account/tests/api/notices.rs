//! Every affected member reached (API 1.1.0): members without an email
//! address are affected and have their notice in the product from the
//! freeze; a `notification.notice_undelivered` raises a member's in-app
//! notice (later ones only change its reason); ListNotices,
//! AcknowledgeNotice, Login's pending count, the incident's progress and
//! ListAffectedAccounts show it; the forum thread's link travels with it.

use std::time::Duration;

use candor_proto::account::v1::*;
use candor_proto::events::v1::{
    DataClass, IncidentThreadOpened, NOTIFICATION_NOTICE_UNDELIVERED, NoticeUndelivered,
    PasswordResetScope, UndeliveredReason,
};
use candor_proto::prost::Message as _;
use candor_testkit::environment::OPERATOR_TOKEN;
use candor_testkit::metrics::scrape;
use tonic::Code;

use crate::breach::{breach, collect, observe, publish};
use crate::helpers::{PASSWORD, TestApp, eventually, with_token};
use crate::intake::progress;

const THREAD_URL: &str = "https://books.example/forum/threads/0197a1b2-0000-7000-8000-000000000001";

/// A NoticeUndelivered as the notification service publishes it (the test
/// broker's user owns every routing key).
pub(crate) async fn report(
    app: &TestApp,
    incident_id: &str,
    account_id: &str,
    reason: UndeliveredReason,
) {
    let event = NoticeUndelivered {
        incident_id: incident_id.to_owned(),
        account_id: account_id.to_owned(),
        reason: reason as i32,
        occurred_at: Some(candor_platform::time::timestamp(chrono::Utc::now())),
    };
    app.environment
        .broker
        .publish_raw(
            NOTIFICATION_NOTICE_UNDELIVERED,
            Some(candor_proto::events::v1::CONTENT_TYPE_PROTOBUF),
            &event.encode_to_vec(),
        )
        .await
        .unwrap();
}

/// The in-app notice ListAffectedAccounts shows for `account_id`.
async fn listed_notice(app: &TestApp, incident_id: &str, account_id: &str) -> Option<InAppNotice> {
    app.affected_accounts(incident_id)
        .await
        .accounts
        .into_iter()
        .find(|entry| entry.account.as_ref().unwrap().account_id == account_id)
        .unwrap()
        .in_app_notice
}

/// Waits until the member's listed notice has `reason`.
async fn wait_for_reason(
    app: &TestApp,
    incident_id: &str,
    account_id: &str,
    reason: UndeliveredReason,
) -> InAppNotice {
    eventually(Duration::from_secs(30), "the in-app notice", || async {
        listed_notice(app, incident_id, account_id)
            .await
            .filter(|notice| notice.reason == reason as i32)
    })
    .await
}

/// A session for `account_id` made in the database (a member whose
/// password the incident invalidated cannot log in).
async fn session_for(app: &TestApp, account_id: &str) -> String {
    let token = format!("test-session-{account_id}");
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, expires_at)
         VALUES (sha256(convert_to($1, 'UTF8')), $2::uuid, now() + interval '1 hour')",
    )
    .bind(&token)
    .bind(account_id)
    .execute(app.pool())
    .await
    .unwrap();
    token
}

async fn list_notices(
    app: &TestApp,
    token: &str,
    include_acknowledged: bool,
) -> Result<Vec<SecurityNotice>, tonic::Status> {
    app.client
        .clone()
        .list_notices(with_token(
            token,
            ListNoticesRequest {
                include_acknowledged,
            },
        ))
        .await
        .map(|response| response.into_inner().notices)
}

async fn acknowledge(
    app: &TestApp,
    token: &str,
    incident_id: &str,
) -> Result<SecurityNotice, tonic::Status> {
    app.client
        .clone()
        .acknowledge_notice(with_token(
            token,
            AcknowledgeNoticeRequest {
                incident_id: incident_id.to_owned(),
            },
        ))
        .await
        .map(|response| response.into_inner().notice.unwrap())
}

async fn set_sql(app: &TestApp, statement: &'static str, account_id: &str) {
    sqlx::query(statement)
        .bind(account_id)
        .execute(app.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn members_without_an_email_address_are_affected_counted_and_noticed_at_the_freeze() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let with = app.register("with@example.com", "With").await;
    let without = app.register("without@example.com", "Without").await;
    for member in [&with, &without] {
        app.set_joined_at(&member.account_id, "2010-05-01T00:00:00Z")
            .await;
    }
    set_sql(
        &app,
        "UPDATE accounts SET email = NULL WHERE account_id = $1::uuid",
        &without.account_id,
    )
    .await;

    let event = breach("no-email", PasswordResetScope::None);
    let dry_run = app
        .client
        .clone()
        .count_affected_accounts(with_token(
            OPERATOR_TOKEN,
            CountAffectedAccountsRequest {
                affected_joined_before: event.affected_joined_before,
                password_reset_scope: PasswordResetScope::None as i32,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dry_run.affected_accounts, 2);
    assert_eq!(dry_run.without_email, 1);

    publish(&app.environment.broker, &event).await;
    let published = collect(&app.environment.broker, &observer).await;
    assert_eq!(published.completed.affected_accounts, 2);
    let batch = &published.batches[&1];
    assert_eq!(batch.validate(), Ok(()));
    let emailless = batch
        .accounts
        .iter()
        .find(|account| account.account_id == without.account_id)
        .unwrap();
    assert_eq!(emailless.email, "");
    let mut held = emailless.held_data_classes.clone();
    held.sort_unstable();
    assert_eq!(
        held,
        [
            DataClass::PasswordHash as i32,
            DataClass::DisplayName as i32
        ]
    );

    // The freeze raised the member's notice; the one with email has none.
    let raised = listed_notice(&app, "no-email", &without.account_id)
        .await
        .unwrap();
    assert_eq!(raised.reason, UndeliveredReason::NoEmailAddress as i32);
    assert!(raised.raised_at.is_some() && raised.acknowledged_at.is_none());
    assert_eq!(
        listed_notice(&app, "no-email", &with.account_id).await,
        None
    );

    // The notification service's report for them changes nothing; a report
    // for the other member, published after it, shows when both were taken.
    report(
        &app,
        "no-email",
        &without.account_id,
        UndeliveredReason::NoEmailAddress,
    )
    .await;
    report(
        &app,
        "no-email",
        &with.account_id,
        UndeliveredReason::Failed,
    )
    .await;
    wait_for_reason(
        &app,
        "no-email",
        &with.account_id,
        UndeliveredReason::Failed,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        listed_notice(&app, "no-email", &without.account_id).await,
        Some(raised)
    );
    let progress = eventually(Duration::from_secs(30), "complete progress", || async {
        progress(&app, "no-email")
            .await
            .ok()
            .filter(|progress| progress.complete)
    })
    .await;
    assert_eq!(progress.affected_accounts, 2);
    assert_eq!(progress.affected_without_email, 1);
    assert_eq!(progress.in_app_notices, 2);
    assert_eq!(progress.in_app_notices_acknowledged, 0);
    assert_eq!(progress.last_acknowledged_at, None);

    // Once staff gave the member an address, their login says a notice waits.
    set_sql(
        &app,
        "UPDATE accounts SET email = 'without-now@example.com' WHERE account_id = $1::uuid",
        &without.account_id,
    )
    .await;
    let login = app
        .login("without-now@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(login.pending_notice_count, 1);
    let Some(login_response::Result::Session(session)) = login.result else {
        panic!("expected a session");
    };
    let notices = list_notices(&app, &session.session_token, false)
        .await
        .unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].incident_id, "no-email");
    assert!(!notices[0].password_reset_required);
    assert_eq!(notices[0].incident.as_ref().unwrap().title, event.title);
}

#[tokio::test]
async fn an_undelivered_notice_is_kept_listed_acknowledged_and_counted() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let member = app.register("member@example.com", "Member").await;
    let other = app.register("other@example.com", "Other").await;
    for account in [&member, &other] {
        app.set_joined_at(&account.account_id, "2010-05-01T00:00:00Z")
            .await;
    }
    let event = breach("kept", PasswordResetScope::Affected);
    publish(&app.environment.broker, &event).await;
    collect(&app.environment.broker, &observer).await;
    assert_eq!(listed_notice(&app, "kept", &member.account_id).await, None);

    // The first report raises it; a duplicate changes nothing; a later
    // reason replaces the reason only.
    report(&app, "kept", &member.account_id, UndeliveredReason::Failed).await;
    let first = wait_for_reason(&app, "kept", &member.account_id, UndeliveredReason::Failed).await;
    report(&app, "kept", &member.account_id, UndeliveredReason::Failed).await;
    report(&app, "kept", &member.account_id, UndeliveredReason::Bounced).await;
    let bounced =
        wait_for_reason(&app, "kept", &member.account_id, UndeliveredReason::Bounced).await;
    assert_eq!(bounced.raised_at, first.raised_at);
    assert_eq!(listed_notice(&app, "kept", &other.account_id).await, None);

    // Their password was invalidated and not set since.
    let token = session_for(&app, &member.account_id).await;
    let notices = list_notices(&app, &token, false).await.unwrap();
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert_eq!(notice.incident_id, "kept");
    assert_eq!(notice.incident.as_ref().unwrap(), &event);
    assert!(notice.password_reset_required);
    assert_eq!(notice.thread_url, "");
    assert_eq!(notice.in_app_notice.as_ref(), Some(&bounced));

    // The forum's thread link.
    let thread = IncidentThreadOpened {
        incident_id: "kept".to_owned(),
        thread_id: "0197a1b2-0000-7000-8000-000000000001".to_owned(),
        url: THREAD_URL.to_owned(),
        opened_at: Some(candor_platform::time::timestamp(chrono::Utc::now())),
    };
    app.environment
        .broker
        .publish_raw(
            candor_proto::events::v1::FORUM_INCIDENT_THREAD_OPENED,
            Some(candor_proto::events::v1::CONTENT_TYPE_PROTOBUF),
            &thread.encode_to_vec(),
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "the thread link", || async {
        list_notices(&app, &token, false)
            .await
            .unwrap()
            .into_iter()
            .find(|notice| notice.thread_url == THREAD_URL)
    })
    .await;

    // Reset since (as ResetPassword does): no longer required; Login counts
    // the pending notice, on the way to a password change too.
    set_sql(
        &app,
        "UPDATE accounts SET password_state = 2, password_changed_at = now() WHERE account_id = $1::uuid",
        &member.account_id,
    )
    .await;
    let login = app.login("member@example.com", PASSWORD).await.unwrap();
    assert!(matches!(
        login.result,
        Some(login_response::Result::PasswordChangeRequired(_))
    ));
    assert_eq!(login.pending_notice_count, 1);
    assert!(!list_notices(&app, &token, false).await.unwrap()[0].password_reset_required);

    // Acknowledging is idempotent and keeps the first time.
    let acknowledged = acknowledge(&app, &token, "kept").await.unwrap();
    let at = acknowledged
        .in_app_notice
        .as_ref()
        .unwrap()
        .acknowledged_at
        .unwrap();
    let again = acknowledge(&app, &token, "kept").await.unwrap();
    assert_eq!(again.in_app_notice.unwrap().acknowledged_at, Some(at));
    assert!(list_notices(&app, &token, false).await.unwrap().is_empty());
    let all = list_notices(&app, &token, true).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].in_app_notice.as_ref().unwrap().acknowledged_at,
        Some(at)
    );
    set_sql(
        &app,
        "UPDATE accounts SET password_state = 1 WHERE account_id = $1::uuid",
        &member.account_id,
    )
    .await;
    let login = app.login("member@example.com", PASSWORD).await.unwrap();
    assert_eq!(login.pending_notice_count, 0);

    let progress = progress(&app, "kept").await.unwrap();
    assert_eq!(progress.affected_without_email, 0);
    assert_eq!(progress.in_app_notices, 1);
    assert_eq!(progress.in_app_notices_acknowledged, 1);
    assert_eq!(progress.last_acknowledged_at, Some(at));
    let metrics = scrape(app.metrics_addr).await.unwrap();
    assert_eq!(
        metrics.value(
            "candor_account_notices_acknowledged_total",
            &[("reason", "bounced")]
        ),
        Some(1.0)
    );

    // The errors.
    let empty = acknowledge(&app, &token, "").await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
    let other_token = session_for(&app, &other.account_id).await;
    let none = acknowledge(&app, &other_token, "kept").await.unwrap_err();
    assert_eq!(none.code(), Code::NotFound, "{none:?}");
    let unknown = acknowledge(&app, &token, "never-reported")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let anonymous = list_notices(&app, "not-a-session", false)
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
}

#[tokio::test]
async fn a_report_from_another_publisher_invalid_or_for_a_stranger_is_dead_lettered() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let member = app.register("member@example.com", "Member").await;
    let stranger = app.register("recent@example.com", "Recent").await;
    app.set_joined_at(&member.account_id, "2010-05-01T00:00:00Z")
        .await;
    publish(
        &app.environment.broker,
        &breach("letters", PasswordResetScope::None),
    )
    .await;
    collect(&app.environment.broker, &observer).await;

    let broker = &app.environment.broker;
    let event = NoticeUndelivered {
        incident_id: "letters".to_owned(),
        account_id: member.account_id.clone(),
        reason: UndeliveredReason::Bounced as i32,
        occurred_at: Some(candor_platform::time::timestamp(chrono::Utc::now())),
    };
    // No publisher: not the notification service's user.
    let forged = broker
        .publish_with_user_id(
            NOTIFICATION_NOTICE_UNDELIVERED,
            Some(candor_proto::events::v1::CONTENT_TYPE_PROTOBUF),
            &event.encode_to_vec(),
            None,
        )
        .await
        .unwrap();
    let mut invalid = event.clone();
    invalid.reason = UndeliveredReason::Unspecified as i32;
    let invalid = broker
        .publish_raw(
            NOTIFICATION_NOTICE_UNDELIVERED,
            Some(candor_proto::events::v1::CONTENT_TYPE_PROTOBUF),
            &invalid.encode_to_vec(),
        )
        .await
        .unwrap();
    report(
        &app,
        "letters",
        &stranger.account_id,
        UndeliveredReason::Failed,
    )
    .await;
    let letters = broker
        .wait_for_dead_letters("account", 3, Duration::from_secs(60))
        .await
        .unwrap();
    let reason_of = |message_id: &str| {
        letters
            .iter()
            .find(|letter| letter.message_id.as_deref() == Some(message_id))
            .and_then(|letter| letter.header("x-candor-error"))
            .unwrap()
    };
    assert!(
        reason_of(&forged).contains("untrusted publisher"),
        "{letters:?}"
    );
    assert!(reason_of(&invalid).contains("reason"), "{letters:?}");
    assert!(
        letters.iter().any(|letter| letter
            .header("x-candor-error")
            .is_some_and(|reason| reason.contains("not in the affected set"))),
        "{letters:?}"
    );
    assert_eq!(
        listed_notice(&app, "letters", &member.account_id).await,
        None
    );
}

#[tokio::test]
async fn a_report_before_its_incident_is_parked_then_applied_and_a_leaver_gets_none() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let early = app.register("early@example.com", "Early").await;
    let leaver = app.register("leaver@example.com", "Leaver").await;
    let later = app.register("later@example.com", "Later").await;
    for account in [&early, &leaver, &later] {
        app.set_joined_at(&account.account_id, "2010-05-01T00:00:00Z")
            .await;
    }

    report(
        &app,
        "overtaken",
        &early.account_id,
        UndeliveredReason::Suppressed,
    )
    .await;
    eventually(Duration::from_secs(30), "the report parked", || async {
        let mut conn = app.pool().acquire().await.unwrap();
        let parked = candor_platform::parking::parked_count(&mut conn, "overtaken")
            .await
            .unwrap();
        (parked == 1).then_some(())
    })
    .await;

    publish(
        &app.environment.broker,
        &breach("overtaken", PasswordResetScope::None),
    )
    .await;
    collect(&app.environment.broker, &observer).await;
    wait_for_reason(
        &app,
        "overtaken",
        &early.account_id,
        UndeliveredReason::Suppressed,
    )
    .await;
    let mut conn = app.pool().acquire().await.unwrap();
    assert_eq!(
        candor_platform::parking::parked_count(&mut conn, "overtaken")
            .await
            .unwrap(),
        0
    );

    // A member who left after the freeze gets no notice.
    set_sql(
        &app,
        "UPDATE accounts SET deactivated_at = now(), email = NULL, display_name = NULL
         WHERE account_id = $1::uuid",
        &leaver.account_id,
    )
    .await;
    report(
        &app,
        "overtaken",
        &leaver.account_id,
        UndeliveredReason::Failed,
    )
    .await;
    report(
        &app,
        "overtaken",
        &later.account_id,
        UndeliveredReason::Failed,
    )
    .await;
    wait_for_reason(
        &app,
        "overtaken",
        &later.account_id,
        UndeliveredReason::Failed,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        listed_notice(&app, "overtaken", &leaver.account_id).await,
        None
    );
}
