//! Password reset and deactivation: emails through the notification
//! service, single-use tokens that expire, the tombstone and its event.

use std::time::Duration;

use candor_platform::auth::Caller;
use candor_proto::account::v1::*;
use candor_proto::events::v1::{ACCOUNT_DEACTIVATED, AccountDeactivated};
use candor_proto::notification::v1::send_email_request::Content;
use candor_proto::prost::Message as _;
use candor_testkit::environment::caller_token;
use tonic::Code;

use crate::helpers::{OTHER_PASSWORD, PASSWORD, TestApp, eventually, token_of, with_token};

async fn request_reset(app: &TestApp, email: &str) {
    app.client
        .clone()
        .request_password_reset(RequestPasswordResetRequest {
            email: email.to_owned(),
        })
        .await
        .unwrap();
}

fn reset_token(content: &Option<Content>) -> String {
    match content {
        Some(Content::PasswordReset(email)) => {
            // The route the README's public link table promises.
            assert!(
                email
                    .reset_url
                    .starts_with("http://localhost:8080/account/reset-password/confirm?token="),
                "{}",
                email.reset_url
            );
            token_of(&email.reset_url)
        }
        other => panic!("expected a reset email, got {other:?}"),
    }
}

async fn reset(
    app: &TestApp,
    token: &str,
    password: &str,
) -> Result<ResetPasswordResponse, tonic::Status> {
    app.client
        .clone()
        .reset_password(ResetPasswordRequest {
            reset_token: token.to_owned(),
            new_password: password.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn reset_tokens_are_single_use_superseded_and_expire() {
    let app = TestApp::spawn().await;
    let account = app.register("ann@example.com", "Ann").await;
    let session = app.session("ann@example.com", PASSWORD).await;

    // An unknown address is answered OK and sends nothing.
    request_reset(&app, "nobody@example.com").await;
    request_reset(&app, "ann@example.com").await;
    request_reset(&app, "ann@example.com").await;
    let calls = app.notifications.wait_for(2).await;
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].0.as_deref(),
        Some(format!("Bearer {}", caller_token(Caller::Account)).as_str())
    );
    assert_eq!(calls[0].1.to_address, "ann@example.com");
    assert_eq!(calls[0].1.account_id, account.account_id);
    let superseded = reset_token(&calls[0].1.content);
    let current = reset_token(&calls[1].1.content);

    let status = reset(&app, &superseded, OTHER_PASSWORD).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let same = reset(&app, &current, PASSWORD).await.unwrap_err();
    assert_eq!(
        same.code(),
        Code::InvalidArgument,
        "the new password may not equal the old"
    );
    let fresh = reset(&app, &current, OTHER_PASSWORD).await.unwrap();
    app.validate(&fresh.session.unwrap().session_token)
        .await
        .unwrap();
    assert_eq!(
        app.validate(&session.session_token)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let reused = reset(&app, &current, "yet another passphrase")
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated);
    assert_eq!(
        reused.message(),
        status.message(),
        "one message for every bad token"
    );

    // The reset told the member their password changed.
    let calls = app.notifications.wait_for(3).await;
    let Some(Content::PasswordChanged(_)) = &calls[2].1.content else {
        panic!(
            "expected the password-changed email, got {:?}",
            calls[2].1.content
        );
    };
    assert_eq!(calls[2].1.to_address, "ann@example.com");

    request_reset(&app, "ann@example.com").await;
    let calls = app.notifications.wait_for(4).await;
    let expiring = reset_token(&calls[3].1.content);
    sqlx::query("UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 2 AND used_at IS NULL AND superseded_at IS NULL")
        .execute(app.pool())
        .await
        .unwrap();
    let expired = reset(&app, &expiring, "yet another passphrase")
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
    app.session("ann@example.com", OTHER_PASSWORD).await;
}

#[tokio::test]
async fn deactivation_erases_personal_data_revokes_sessions_and_publishes_the_event() {
    let app = TestApp::spawn().await;
    let observer = app
        .environment
        .broker
        .declare_queue(&candor_platform::messaging::QueueSpec::new(
            "observer",
            [ACCOUNT_DEACTIVATED],
        ))
        .await
        .unwrap();
    let account = app.register("ann@example.com", "Ann").await;
    let session = app.session("ann@example.com", PASSWORD).await;
    let expires = app
        .client
        .clone()
        .request_deactivation(with_token(
            &session.session_token,
            RequestDeactivationRequest {},
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(expires.confirmation_expires_at.is_some());
    let calls = app.notifications.wait_for(1).await;
    let token = match &calls[0].1.content {
        Some(Content::DeactivationConfirmation(email)) => {
            assert!(
                email
                    .confirmation_url
                    .starts_with("http://localhost:8080/account/deactivate/confirm?token="),
                "{}",
                email.confirmation_url
            );
            token_of(&email.confirmation_url)
        }
        other => panic!("expected a confirmation email, got {other:?}"),
    };
    let bad = app
        .client
        .clone()
        .confirm_deactivation(ConfirmDeactivationRequest {
            deactivation_token: "not-a-token".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::Unauthenticated);

    let confirm = || async {
        app.client
            .clone()
            .confirm_deactivation(ConfirmDeactivationRequest {
                deactivation_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let first = confirm().await;
    assert_eq!(first.account_id, account.account_id);
    let again = confirm().await;
    assert_eq!(again, first, "confirming again answers the same");

    let tombstone = app.account(&account.account_id).await;
    assert_eq!(tombstone.state, AccountState::Deactivated as i32);
    assert!(tombstone.email.is_empty() && tombstone.display_name.is_empty());
    assert_eq!(
        app.validate(&session.session_token)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        app.login("ann@example.com", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let erased: Option<String> =
        sqlx::query_scalar("SELECT email FROM accounts WHERE account_id = $1::uuid")
            .bind(&account.account_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(erased, None);

    let broker = &app.environment.broker;
    let event = eventually(Duration::from_secs(30), "account.deactivated", || async {
        broker.get(&observer).await.unwrap()
    })
    .await;
    let event = AccountDeactivated::decode(event.body.as_slice()).unwrap();
    assert_eq!(event.account_id, account.account_id);
    // The email is free again.
    app.register("ann@example.com", "Ann again").await;
}
