//! What a caller sees when a membership RPC fails: the standard rich error
//! details (`ErrorInfo`, `BadRequest`, `RetryInfo`) read with
//! `tonic_types::StatusExt`, from real calls. Every reason seen here is
//! also checked against the errors table of the RPC that answered it.

use candor_platform::auth::Caller;
use candor_platform::grpc::error_kind::UNAVAILABLE_RETRY_DELAY;
use candor_proto::membership::v1::{
    CreditKind, GetIncidentProgressRequest, GetMembershipRequest, GrantCreditRequest, Money,
};
use candor_testkit::environment::caller_token;
use candor_testkit::error_details::{documented_error_info, invalid_field};
use tonic::{Code, Request, Status};
use tonic_types::{ErrorInfo, StatusExt as _};
use uuid::Uuid;

use crate::helpers::{TestApp, grant_request, operator};

const SERVICE: &str = "candor.membership.v1.MembershipService";

/// The `ErrorInfo` of `status`, once its code, reason and domain are the
/// ones expected and `rpc`'s errors table lists them.
fn error_info(status: &Status, rpc: &str, code: Code, reason: &str) -> ErrorInfo {
    documented_error_info(status, SERVICE, rpc, code, reason)
}

fn with_token<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn an_invalid_field_is_named_in_a_bad_request() {
    let app = TestApp::spawn().await;
    let status = app
        .grant(GrantCreditRequest {
            account_id: "not-a-uuid".to_owned(),
            ..grant_request("bad-account", Uuid::new_v4(), CreditKind::AccountCredit)
        })
        .await
        .unwrap_err();

    error_info(
        &status,
        "GrantCredit",
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    let violation = invalid_field(&status, "account_id");
    assert_eq!(
        status.message(),
        format!("account_id: {}", violation.description)
    );
}

#[tokio::test]
async fn a_member_session_the_account_service_cannot_check_says_when_to_retry() {
    // The tests' account service address answers nothing, so no member
    // session can be validated: UNAVAILABLE, with a delay to retry after.
    let app = TestApp::spawn().await;
    let status = app
        .client()
        .get_membership(with_token(
            "a-member-session-token",
            GetMembershipRequest {
                account_id: Uuid::new_v4().to_string(),
            },
        ))
        .await
        .unwrap_err();

    error_info(
        &status,
        "GetMembership",
        Code::Unavailable,
        "DEPENDENCY_UNAVAILABLE",
    );
    let retry = status.get_details_retry_info().expect("a RetryInfo");
    assert_eq!(retry.retry_delay, Some(UNAVAILABLE_RETRY_DELAY));
    assert!(status.get_details_bad_request().is_none());
}

#[tokio::test]
async fn each_failure_has_its_own_reason() {
    let app = TestApp::spawn().await;
    let account = Uuid::new_v4();
    let request = grant_request("grant-1", account, CreditKind::AccountCredit);
    app.grant(request.clone()).await.unwrap();

    let reused = app
        .grant(GrantCreditRequest {
            value: Some(Money {
                value_minor_units: 701,
                currency: "EUR".to_owned(),
            }),
            ..request
        })
        .await
        .unwrap_err();
    error_info(
        &reused,
        "GrantCredit",
        Code::FailedPrecondition,
        "IDEMPOTENCY_KEY_REUSED",
    );

    let missing = app
        .grant(GrantCreditRequest {
            voids_credit_id: Uuid::new_v4().to_string(),
            ..grant_request("void-nothing", account, CreditKind::Void)
        })
        .await
        .unwrap_err();
    error_info(&missing, "GrantCredit", Code::NotFound, "CREDIT_NOT_FOUND");

    let unrecorded = app
        .client()
        .get_incident_progress(operator(GetIncidentProgressRequest {
            incident_id: "never-reported".to_owned(),
        }))
        .await
        .unwrap_err();
    error_info(
        &unrecorded,
        "GetIncidentProgress",
        Code::NotFound,
        "INCIDENT_NOT_FOUND",
    );
}

#[tokio::test]
async fn a_refused_credential_names_the_refusal() {
    let app = TestApp::spawn().await;
    let request = grant_request("refused", Uuid::new_v4(), CreditKind::AccountCredit);

    let missing = app
        .client()
        .grant_credit(Request::new(request.clone()))
        .await
        .unwrap_err();
    error_info(
        &missing,
        "GrantCredit",
        Code::Unauthenticated,
        "CREDENTIAL_MISSING",
    );

    let not_permitted = app
        .client()
        .grant_credit(with_token(caller_token(Caller::Forum), request))
        .await
        .unwrap_err();
    error_info(
        &not_permitted,
        "GrantCredit",
        Code::PermissionDenied,
        "CALLER_NOT_PERMITTED",
    );
}

#[tokio::test]
async fn an_internal_error_carries_its_trace_id_and_not_its_cause() {
    let app = TestApp::spawn().await;
    sqlx::query("ALTER TABLE memberships RENAME TO memberships_moved_away")
        .execute(app.pool())
        .await
        .unwrap();

    let status = app
        .client()
        .get_membership(operator(GetMembershipRequest {
            account_id: Uuid::new_v4().to_string(),
        }))
        .await
        .unwrap_err();

    let info = error_info(&status, "GetMembership", Code::Internal, "INTERNAL_ERROR");
    let trace_id = info.metadata.get("trace_id").expect("a trace_id");
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert_eq!(
        status.message(),
        format!("internal error (trace id {trace_id})")
    );
    assert!(status.get_details_retry_info().is_none());
}
