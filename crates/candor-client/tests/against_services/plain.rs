//! A caller with a bearer token over plain HTTP/2: answers, refusals with
//! their details, and retries across an outage.

use std::net::SocketAddr;
use std::time::Duration;

use candor_client::proto::account::v1::{ListIncidentsRequest, RegisterRequest};
use candor_client::proto::membership::v1::{GetMembershipRequest, Tier};
use candor_client::{Connection, ErrorDetails, RetryPolicy};
use candor_e2e::stack::Stack;
use candor_testkit::environment::caller_token;
use candor_testkit::proxy::TcpProxy;
use secrecy::SecretString;

#[tokio::test]
async fn a_caller_is_answered_refused_with_reasons_and_retried_only_when_safe() {
    let stack = Stack::in_process().await.unwrap();

    a_bearer_token_call_is_answered(&stack).await;
    refusals_say_why(&stack).await;
    an_idempotent_read_rides_out_an_outage_and_a_register_does_not(&stack).await;

    stack.stop().await.unwrap();
}

async fn a_bearer_token_call_is_answered(stack: &Stack) {
    let connection = Connection::builder(&stack.endpoints.membership_grpc_url)
        .bearer_token(super::operator_token())
        .connect_lazy()
        .unwrap();
    let membership = connection
        .membership()
        .get_membership(GetMembershipRequest {
            account_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .membership
        .unwrap();
    assert_eq!(membership.tier(), Tier::Free);
}

async fn refusals_say_why(stack: &Stack) {
    let account_as = |token: &str| {
        Connection::builder(&stack.endpoints.account_grpc_url)
            .bearer_token(SecretString::from(token.to_owned()))
            .connect_lazy()
            .unwrap()
            .account()
    };

    let unknown = account_as("nobody-holds-this-token-0123456789")
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated, "{unknown:?}");
    assert!(
        ErrorDetails::of(&unknown).is("CREDENTIAL_UNKNOWN"),
        "{unknown:?}"
    );

    let forum = caller_token(candor_platform::auth::Caller::Forum);
    let not_permitted = account_as(forum)
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(not_permitted.code(), tonic::Code::PermissionDenied);
    let details = ErrorDetails::of(&not_permitted);
    assert!(details.is("CALLER_NOT_PERMITTED"), "{details:?}");

    let invalid = Connection::builder(&stack.endpoints.membership_grpc_url)
        .bearer_token(super::operator_token())
        .connect_lazy()
        .unwrap()
        .membership()
        .get_membership(GetMembershipRequest {
            account_id: "not-a-uuid".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    let details = ErrorDetails::of(&invalid);
    assert!(details.is("INVALID_FIELD"), "{details:?}");
    assert_eq!(details.fields().collect::<Vec<_>>(), ["account_id"]);
}

/// Long enough for a retry to still be waiting when the proxy is restored.
const PATIENT: RetryPolicy = RetryPolicy {
    max_attempts: 20,
    initial_backoff: Duration::from_millis(50),
    max_backoff: Duration::from_millis(100),
};

async fn an_idempotent_read_rides_out_an_outage_and_a_register_does_not(stack: &Stack) {
    let account_addr: SocketAddr = stack
        .endpoints
        .account_grpc_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = TcpProxy::start(account_addr).await.unwrap();
    let connection = Connection::builder(format!("http://{}", proxy.address()))
        .bearer_token(super::operator_token())
        .retry_policy(PATIENT)
        .connect_lazy()
        .unwrap();

    proxy.cut();
    let read = tokio::spawn({
        let mut account = connection.account();
        async move {
            account
                .list_incidents(ListIncidentsRequest::default())
                .await
        }
    });
    let register = connection
        .account()
        .register(RegisterRequest {
            email: "retried@example.org".to_owned(),
            display_name: "Retried".to_owned(),
            password: "correct horse battery staple".to_owned(),
        })
        .await
        .unwrap_err();
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.restore();

    // The read was sent again until the service was back.
    read.await.unwrap().unwrap();
    // The register was sent once: it failed while the proxy was cut,
    // although the same policy would have outlasted the outage.
    assert_eq!(register.code(), tonic::Code::Unavailable, "{register:?}");
}
