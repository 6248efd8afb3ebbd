//! Register, Login, ValidateSession, GetAccount, SetRoles, ChangePassword,
//! throttling.

use candor_platform::auth::Caller;
use candor_proto::account::v1::*;
use candor_testkit::environment::{OPERATOR_TOKEN, caller_token};
use tonic::Code;

use crate::helpers::{OTHER_PASSWORD, PASSWORD, TestApp, with_token};

#[tokio::test]
async fn a_registered_member_logs_in_and_other_services_resolve_the_session() {
    let app = TestApp::spawn().await;
    let account = app.register("  Ann@Example.COM ", "Ann").await;
    assert_eq!(account.email, "Ann@example.com");
    assert_eq!(account.state, AccountState::Active as i32);
    assert_eq!(account.password_state, PasswordState::Ok as i32);

    // Case-insensitive email lookup at login.
    let session = app.session("ann@EXAMPLE.com", PASSWORD).await;
    assert_eq!(session.session_token.len(), 43);
    assert_eq!(session.account_id, account.account_id);
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_ne!(
        stored,
        session.session_token.as_bytes(),
        "only the hash is stored"
    );
    assert_eq!(stored.len(), 32);

    let validated = app.validate(&session.session_token).await.unwrap();
    assert_eq!(validated.account_id, account.account_id);
    assert_eq!(validated.display_name, "Ann");
    assert!(validated.roles.is_empty());

    // A member reads their own account, with an empty id meaning "me".
    let me = app
        .client
        .clone()
        .get_account(with_token(
            &session.session_token,
            GetAccountRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(me.account_id, account.account_id);

    // Staff role through SetRoles, visible at the next ValidateSession.
    let updated = app
        .client
        .clone()
        .set_roles(with_token(
            OPERATOR_TOKEN,
            SetRolesRequest {
                account_id: account.account_id.clone(),
                roles: vec![Role::Staff as i32, Role::Staff as i32],
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(updated.roles, vec![Role::Staff as i32]);
    let validated = app.validate(&session.session_token).await.unwrap();
    assert_eq!(validated.roles, vec![Role::Staff as i32]);
    let removed = app
        .client
        .clone()
        .set_roles(with_token(
            OPERATOR_TOKEN,
            SetRolesRequest {
                account_id: account.account_id.clone(),
                roles: vec![],
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert!(removed.roles.is_empty());
}

#[tokio::test]
async fn credentials_are_checked_per_rpc() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com", "Ann").await;
    let bob = app.register("bob@example.com", "Bob").await;
    let session = app.session("ann@example.com", PASSWORD).await;
    let mut client = app.client.clone();

    let denied = client
        .get_account(with_token(
            &session.session_token,
            GetAccountRequest {
                account_id: bob.account_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let service_on_operator_rpc = client
        .set_roles(with_token(
            caller_token(Caller::Forum),
            SetRolesRequest {
                account_id: ann.account_id.clone(),
                roles: vec![Role::Staff as i32],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(service_on_operator_rpc.code(), Code::PermissionDenied);

    let operator_on_validate = client
        .validate_session(with_token(
            OPERATOR_TOKEN,
            ValidateSessionRequest {
                session_token: session.session_token.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(operator_on_validate.code(), Code::PermissionDenied);

    let unknown = app.validate("not-a-session-token").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let unspecified = client
        .set_roles(with_token(
            OPERATOR_TOKEN,
            SetRolesRequest {
                account_id: ann.account_id.clone(),
                roles: vec![Role::Unspecified as i32],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(unspecified.code(), Code::InvalidArgument);
    assert!(unspecified.message().starts_with("roles:"));
    let missing = client
        .set_roles(with_token(
            OPERATOR_TOKEN,
            SetRolesRequest {
                account_id: uuid::Uuid::new_v4().to_string(),
                roles: vec![],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn registration_rules_name_the_field_and_a_taken_email_already_exists() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    let cases = [
        ("not-an-email", "Ann", PASSWORD, "email:"),
        ("ann@example.com", "", PASSWORD, "display_name:"),
        ("ann@example.com", "Ann", "short", "password:"),
        ("ann@example.com", "Ann", "password123", "password:"),
        (
            "annabelle@example.com",
            "Ann",
            "i-am-annabelle-1984",
            "password:",
        ),
    ];
    for (email, name, password, field) in cases {
        let status = client
            .register(RegisterRequest {
                email: email.to_owned(),
                display_name: name.to_owned(),
                password: password.to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{email} {name} {password}"
        );
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    app.register("ann@example.com", "Ann").await;
    let taken = client
        .register(RegisterRequest {
            email: "ANN@example.com".to_owned(),
            display_name: "Ann again".to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("ann@example.com", "Ann").await;
    let wrong_password = app
        .login("ann@example.com", OTHER_PASSWORD)
        .await
        .unwrap_err();
    let unknown_email = app.login("nobody@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(wrong_password.code(), Code::Unauthenticated);
    assert_eq!(wrong_password.code(), unknown_email.code());
    assert_eq!(wrong_password.message(), unknown_email.message());
    assert_eq!(
        wrong_password.metadata().get("retry-after"),
        unknown_email.metadata().get("retry-after")
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_then_per_address() {
    // LOGIN_FAILURES_PER_ACCOUNT = 3, LOGIN_FAILURES_PER_ADDRESS = 6.
    let app = TestApp::spawn().await;
    app.register("ann@example.com", "Ann").await;
    for _ in 0..3 {
        let status = app
            .login("ann@example.com", OTHER_PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // Blocked now, even with the right password.
    let throttled = app.login("ann@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted);
    let retry_after: u64 = throttled
        .metadata()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);

    // Three more failures on other (unknown) addresses reach the address limit.
    for index in 0..3 {
        let status = app
            .login(&format!("guess{index}@example.com"), OTHER_PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let throttled = app.login("fresh@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted);
    assert!(throttled.metadata().get("retry-after").is_some());
}

#[tokio::test]
async fn change_password_replaces_the_password_and_revokes_other_sessions() {
    let app = TestApp::spawn().await;
    app.register("ann@example.com", "Ann").await;
    let first = app.session("ann@example.com", PASSWORD).await;
    let mut client = app.client.clone();

    let wrong = client
        .change_password(with_token(
            &first.session_token,
            ChangePasswordRequest {
                current_password: OTHER_PASSWORD.to_owned(),
                new_password: "a brand new passphrase".to_owned(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let same = client
        .change_password(with_token(
            &first.session_token,
            ChangePasswordRequest {
                current_password: PASSWORD.to_owned(),
                new_password: PASSWORD.to_owned(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::InvalidArgument);
    assert!(same.message().starts_with("new_password:"));

    let changed = client
        .change_password(with_token(
            &first.session_token,
            ChangePasswordRequest {
                current_password: PASSWORD.to_owned(),
                new_password: OTHER_PASSWORD.to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    assert_eq!(
        app.validate(&first.session_token).await.unwrap_err().code(),
        Code::NotFound
    );
    app.validate(&changed.session_token).await.unwrap();
    assert_eq!(
        app.login("ann@example.com", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    app.session("ann@example.com", OTHER_PASSWORD).await;
}
