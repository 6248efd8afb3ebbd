//! Logout and RevokeAllSessions, and the raw-length and control-character
//! rules on the account's text fields.

use candor_proto::account::v1::*;
use tonic::Code;

use crate::helpers::{PASSWORD, TestApp, with_token};

#[tokio::test]
async fn logout_ends_only_the_session_presented() {
    let app = TestApp::spawn().await;
    app.register("lo@example.com", "Lo").await;
    let phone = app.session("lo@example.com", PASSWORD).await;
    let laptop = app.session("lo@example.com", PASSWORD).await;
    app.client
        .clone()
        .logout(with_token(&phone.session_token, LogoutRequest {}))
        .await
        .unwrap();
    assert_eq!(
        app.validate(&phone.session_token).await.unwrap_err().code(),
        Code::NotFound
    );
    app.validate(&laptop.session_token).await.unwrap();
    let again = app
        .client
        .clone()
        .logout(with_token(&phone.session_token, LogoutRequest {}))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);
    let anonymous = app
        .client
        .clone()
        .logout(LogoutRequest {})
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn revoke_all_sessions_ends_every_session_of_the_member_only() {
    let app = TestApp::spawn().await;
    app.register("all@example.com", "All").await;
    app.register("other@example.com", "Other").await;
    let sessions = [
        app.session("all@example.com", PASSWORD).await,
        app.session("all@example.com", PASSWORD).await,
        app.session("all@example.com", PASSWORD).await,
    ];
    let other = app.session("other@example.com", PASSWORD).await;
    let response = app
        .client
        .clone()
        .revoke_all_sessions(with_token(
            &sessions[1].session_token,
            RevokeAllSessionsRequest {},
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.revoked_sessions, 3);
    for session in &sessions {
        assert_eq!(
            app.validate(&session.session_token)
                .await
                .unwrap_err()
                .code(),
            Code::NotFound
        );
    }
    app.validate(&other.session_token).await.unwrap();
    let again = app
        .client
        .clone()
        .revoke_all_sessions(with_token(
            &sessions[0].session_token,
            RevokeAllSessionsRequest {},
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);
}

async fn register_status(app: &TestApp, email: &str, display_name: &str) -> tonic::Status {
    app.client
        .clone()
        .register(RegisterRequest {
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
        .unwrap_err()
}

#[tokio::test]
async fn names_with_line_breaks_and_over_long_raw_values_are_invalid() {
    let app = TestApp::spawn().await;
    let status = register_status(&app, "crlf@example.com", "Ann\r\nBcc: all@example.com").await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "display_name: must be a single line (no CR, LF or line separator)"
    );
    let status = register_status(&app, "bell@example.com", "Ann\u{7}").await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("display_name: must not contain control characters")
    );
    // 3 characters once trimmed, 4003 as sent: refused on the raw value.
    let padded = format!("{}Ann{}", " ".repeat(2000), " ".repeat(2000));
    let status = register_status(&app, "pad@example.com", &padded).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "display_name: must be at most 64 characters (is 4003)"
    );
    let status = register_status(&app, "ann@example.com\r\nX: y", "Ann").await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("email: must be a single line"),
        "{status:?}"
    );
    let huge_email = format!("{}@example.com", "a".repeat(1_000_000));
    let status = app.login(&huge_email, PASSWORD).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("email: must be at most 254"),
        "{status:?}"
    );
    let long_token = "t".repeat(10_000);
    let status = app.validate(&long_token).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("session_token: must be at most 256")
    );
}
