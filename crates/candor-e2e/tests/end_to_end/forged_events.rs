//! A forged event against the real services, each with its own broker user:
//! an `account.deactivated` published by someone other than account reaches
//! every consumer of the key, each dead-letters it with the reason, and the
//! member's account and membership are untouched.

use std::time::Duration;

use candor_e2e::stack::Stack;
use candor_platform::messaging::{CONTENT_TYPE_PROTOBUF, HEADER_ERROR, ServiceQueue};
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::account::v1::{LoginRequest, login_response};
use candor_proto::events::v1::{ACCOUNT_DEACTIVATED, AccountDeactivated};
use candor_proto::membership::v1::GetMembershipRequest;
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::prost::Message;
use candorctl::commands::accounts::{seed, stream};

async fn login(stack: &Stack, email: &str) -> (String, String) {
    let response =
        AccountServiceClient::new(stack.channel(&stack.endpoints.account_grpc_url).unwrap())
            .login(LoginRequest {
                email: email.to_owned(),
                password: seed::DEMO_PASSWORD.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
    match response.result {
        Some(login_response::Result::Session(session)) => {
            (session.account_id, session.session_token)
        }
        other => panic!("expected a session, got {other:?}"),
    }
}

#[tokio::test]
async fn a_forged_account_deactivated_changes_nothing() {
    let stack = Stack::in_process().await.unwrap();
    let broker = stack.broker().expect("an in-process stack");
    let cutoff = candorctl::notice::file::parse_time("2011-11-01").unwrap();
    let member = seed::members(1, cutoff, 1.0, "forged.readers.example".to_owned(), 13)
        .next()
        .unwrap();
    let summary = stream::import(&stack.endpoints, [member.clone()].into_iter(), None)
        .await
        .unwrap();
    assert_eq!(summary.imported, 1, "rejections: {:?}", summary.rejections);
    let (account_id, session_token) = login(&stack, &member.email).await;

    // A well-formed event for a real account, published by the test's
    // administrator user (allowed by the broker to publish anything, as a
    // misconfigured permission would be), not by account's user.
    let forged = AccountDeactivated {
        account_id: account_id.clone(),
        deactivated_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
    };
    broker
        .publish_raw(
            ACCOUNT_DEACTIVATED,
            Some(CONTENT_TYPE_PROTOBUF),
            &forged.encode_to_vec(),
        )
        .await
        .unwrap();

    let account_user = broker.service_user(ServiceQueue::Account);
    for service in [
        ServiceQueue::Notification,
        ServiceQueue::Membership,
        ServiceQueue::Forum,
    ] {
        let letters = broker
            .wait_for_dead_letters(service.name(), 1, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            letters[0].header(HEADER_ERROR).unwrap(),
            format!(
                "untrusted publisher: account.deactivated is accepted only from user \"{account_user}\", this message came from \"{}\"",
                broker.helper_user()
            ),
            "{}",
            service.name()
        );
    }

    // Still a member: the membership is open and the account logs in.
    let mut request = tonic::Request::new(GetMembershipRequest {
        account_id: account_id.clone(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {session_token}").parse().unwrap(),
    );
    let membership =
        MembershipServiceClient::new(stack.channel(&stack.endpoints.membership_grpc_url).unwrap())
            .get_membership(request)
            .await
            .unwrap()
            .into_inner()
            .membership
            .unwrap();
    assert!(!membership.closed, "the forged event closed the membership");
    assert_eq!(login(&stack, &member.email).await.0, account_id);
    stack.stop().await.unwrap();
}
