//! What a caller sees when an account RPC fails: the standard rich error
//! details (`ErrorInfo`, `BadRequest`, `RetryInfo`) read with
//! `tonic_types::StatusExt`, from real calls. Every reason seen here is
//! also checked against the errors table of the RPC that answered it.

use std::time::Duration;

use candor_platform::auth::Caller;
use candor_proto::account::v1::*;
use candor_testkit::environment::{OPERATOR_TOKEN, caller_token};
use candor_testkit::error_details::{documented_error_info, invalid_field};
use tonic::{Code, Request, Status};
use tonic_types::{ErrorInfo, StatusExt as _};

use crate::helpers::{PASSWORD, TestApp, with_token};

const SERVICE: &str = "candor.account.v1.AccountService";

/// The `ErrorInfo` of `status`, once its code, reason and domain are the
/// ones expected and `rpc`'s errors table lists them.
fn error_info(status: &Status, rpc: &str, code: Code, reason: &str) -> ErrorInfo {
    documented_error_info(status, SERVICE, rpc, code, reason)
}

#[tokio::test]
async fn an_invalid_field_is_named_in_a_bad_request() {
    let app = TestApp::spawn().await;
    let status = app
        .client
        .clone()
        .register(RegisterRequest {
            email: "not an address".to_owned(),
            display_name: "Ann".to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
        .unwrap_err();

    error_info(&status, "Register", Code::InvalidArgument, "INVALID_FIELD");
    let violation = invalid_field(&status, "email");
    // The message a person reads says the same as the violation.
    assert_eq!(
        status.message(),
        format!("email: {}", violation.description)
    );
}

#[tokio::test]
async fn a_throttled_login_says_when_to_retry() {
    // LOGIN_FAILURES_PER_ACCOUNT = 3 in the tests' config.
    let app = TestApp::spawn().await;
    app.register("ann@example.com", "Ann").await;
    for _ in 0..3 {
        let failed = app
            .login("ann@example.com", "wrong password")
            .await
            .unwrap_err();
        error_info(&failed, "Login", Code::Unauthenticated, "LOGIN_FAILED");
    }

    let throttled = app.login("ann@example.com", PASSWORD).await.unwrap_err();
    error_info(&throttled, "Login", Code::ResourceExhausted, "THROTTLED");
    let delay = throttled
        .get_details_retry_info()
        .expect("a RetryInfo")
        .retry_delay
        .expect("a retry delay");
    assert!(delay >= Duration::from_secs(1), "{delay:?}");
    let retry_after: u64 = throttled
        .metadata()
        .get("retry-after")
        .expect("retry-after metadata")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, delay.as_secs());
    assert!(throttled.get_details_bad_request().is_none());
}

#[tokio::test]
async fn each_failure_has_its_own_reason() {
    let app = TestApp::spawn().await;
    app.register("ann@example.com", "Ann").await;
    let bea = app.register("bea@example.com", "Bea").await;
    let mut client = app.client.clone();

    let taken = client
        .register(RegisterRequest {
            email: "ann@example.com".to_owned(),
            display_name: "Ann again".to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
        .unwrap_err();
    error_info(&taken, "Register", Code::AlreadyExists, "EMAIL_TAKEN");

    let missing = client
        .get_account(with_token(
            OPERATOR_TOKEN,
            GetAccountRequest {
                account_id: uuid::Uuid::new_v4().to_string(),
            },
        ))
        .await
        .unwrap_err();
    error_info(&missing, "GetAccount", Code::NotFound, "ACCOUNT_NOT_FOUND");

    let session = app.session("ann@example.com", PASSWORD).await;
    let other = client
        .get_account(with_token(
            &session.session_token,
            GetAccountRequest {
                account_id: bea.account_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    error_info(
        &other,
        "GetAccount",
        Code::PermissionDenied,
        "NOT_OWN_ACCOUNT",
    );

    let unrecorded = client
        .get_incident(with_token(
            OPERATOR_TOKEN,
            GetIncidentRequest {
                incident_id: "never-reported".to_owned(),
            },
        ))
        .await
        .unwrap_err();
    error_info(
        &unrecorded,
        "GetIncident",
        Code::NotFound,
        "INCIDENT_NOT_FOUND",
    );

    client
        .logout(with_token(&session.session_token, LogoutRequest {}))
        .await
        .unwrap();
    let ended = client
        .logout(with_token(&session.session_token, LogoutRequest {}))
        .await
        .unwrap_err();
    error_info(&ended, "Logout", Code::Unauthenticated, "SESSION_INVALID");
}

#[tokio::test]
async fn a_refused_credential_names_the_refusal() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();

    let missing = client
        .list_incidents(Request::new(ListIncidentsRequest::default()))
        .await
        .unwrap_err();
    error_info(
        &missing,
        "ListIncidents",
        Code::Unauthenticated,
        "CREDENTIAL_MISSING",
    );

    let unknown = client
        .list_incidents(with_token(
            "nobody-holds-this-token",
            ListIncidentsRequest::default(),
        ))
        .await
        .unwrap_err();
    error_info(
        &unknown,
        "ListIncidents",
        Code::Unauthenticated,
        "CREDENTIAL_UNKNOWN",
    );

    let not_permitted = client
        .set_roles(with_token(
            caller_token(Caller::Forum),
            SetRolesRequest {
                account_id: uuid::Uuid::new_v4().to_string(),
                roles: vec![Role::Staff as i32],
            },
        ))
        .await
        .unwrap_err();
    error_info(
        &not_permitted,
        "SetRoles",
        Code::PermissionDenied,
        "CALLER_NOT_PERMITTED",
    );
}

#[tokio::test]
async fn an_internal_error_carries_its_trace_id_and_not_its_cause() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com", "Ann").await;
    sqlx::query("ALTER TABLE accounts RENAME TO accounts_moved_away")
        .execute(app.pool())
        .await
        .unwrap();

    let status = app
        .client
        .clone()
        .get_account(with_token(
            OPERATOR_TOKEN,
            GetAccountRequest {
                account_id: ann.account_id,
            },
        ))
        .await
        .unwrap_err();

    let info = error_info(&status, "GetAccount", Code::Internal, "INTERNAL_ERROR");
    let trace_id = info.metadata.get("trace_id").expect("a trace_id");
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert_eq!(
        status.message(),
        format!("internal error (trace id {trace_id})")
    );
    assert!(status.get_details_retry_info().is_none());
}
