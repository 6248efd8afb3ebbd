//! GrantCredit, ListCredits and GetMembership through gRPC, and the stored
//! tier against a replay of the ledger.

use candor_membership::domain::ledger::MembershipState;
use candor_membership::store::{credits, memberships};
use candor_proto::membership::v1::{
    CreditKind, GetMembershipRequest, GrantCreditRequest, ListCreditsRequest, Money, Tier,
};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn the_same_key_replays_the_first_result_and_a_different_request_is_refused() {
    let app = TestApp::spawn().await;
    let account = Uuid::new_v4();
    let request = grant_request("grant-1", account, CreditKind::AccountCredit);
    let first = app.grant(request.clone()).await.unwrap();
    let again = app.grant(request.clone()).await.unwrap();
    assert_eq!(first, again, "the first result, unchanged");
    assert_eq!(app.credits_of(account).await.len(), 1);
    assert_eq!(
        app.membership(account).await.balances[0].value_minor_units,
        700
    );

    let mut different = request.clone();
    different.value = Some(Money {
        value_minor_units: 701,
        currency: "EUR".to_owned(),
    });
    let refused = app.grant(different).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("idempotency_key"),
        "{}",
        refused.message()
    );
    assert_eq!(app.credits_of(account).await.len(), 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_write_one_entry() {
    let app = TestApp::spawn().await;
    let account = Uuid::new_v4();
    let request = grant_request("race", account, CreditKind::LifetimeMembership);
    let calls = (0..8).map(|_| app.grant(request.clone()));
    let results = futures::future::join_all(calls).await;
    let first = results[0].as_ref().unwrap().credit.clone();
    for result in &results {
        assert_eq!(result.as_ref().unwrap().credit, first);
    }
    assert_eq!(app.credits_of(account).await.len(), 1);
}

#[tokio::test]
async fn invalid_requests_name_the_field_and_credentials_are_checked() {
    let app = TestApp::spawn().await;
    let account = Uuid::new_v4();
    let cases: Vec<(&str, GrantCreditRequest)> = vec![
        (
            "idempotency_key",
            grant_request("", account, CreditKind::AccountCredit),
        ),
        (
            "account_id",
            GrantCreditRequest {
                account_id: "nope".to_owned(),
                ..grant_request("k1", account, CreditKind::AccountCredit)
            },
        ),
        (
            "kind",
            grant_request("k2", account, CreditKind::LifetimeAlreadyHeld),
        ),
        (
            "value",
            GrantCreditRequest {
                value: None,
                ..grant_request("k3", account, CreditKind::AccountCredit)
            },
        ),
        (
            "duration_days",
            GrantCreditRequest {
                duration_days: 0,
                ..grant_request("k4", account, CreditKind::PaidMembership)
            },
        ),
        (
            "reason",
            GrantCreditRequest {
                reason: "   ".to_owned(),
                ..grant_request("k5", account, CreditKind::LifetimeMembership)
            },
        ),
        (
            "voids_credit_id",
            grant_request("k6", account, CreditKind::Void),
        ),
    ];
    for (field, request) in cases {
        let status = app.grant(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }

    // Text fields: line breaks refused, the maximum counted as sent.
    let text_cases: Vec<(&str, GrantCreditRequest)> = vec![
        (
            "reason: must be a single line",
            GrantCreditRequest {
                reason: "Goodwill\r\nApproved-By: nobody".to_owned(),
                ..grant_request("k8", account, CreditKind::LifetimeMembership)
            },
        ),
        (
            "reason: must be at most 500 characters",
            GrantCreditRequest {
                reason: format!("{}Goodwill{}", " ".repeat(300), " ".repeat(300)),
                ..grant_request("k9", account, CreditKind::LifetimeMembership)
            },
        ),
        (
            "incident_id: must be a single line",
            GrantCreditRequest {
                incident_id: "inc-1\nforged log line".to_owned(),
                ..grant_request("k10", account, CreditKind::LifetimeMembership)
            },
        ),
    ];
    for (expected, request) in text_cases {
        let status = app.grant(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{expected}");
        assert!(
            status.message().starts_with(expected),
            "{expected}: {}",
            status.message()
        );
    }

    let mut anonymous =
        tonic::Request::new(grant_request("k7", account, CreditKind::LifetimeMembership));
    anonymous.metadata_mut().remove("authorization");
    let status = app.client().grant_credit(anonymous).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let status = app
        .client()
        .get_membership(operator(GetMembershipRequest {
            account_id: "x".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().starts_with("account_id"));

    let never = app.membership(Uuid::new_v4()).await;
    assert_eq!(never.tier(), Tier::Free);
    assert!(!never.closed);
}

#[tokio::test]
async fn a_void_reverses_its_entry_once() {
    let app = TestApp::spawn().await;
    let account = Uuid::new_v4();
    let paid = app
        .grant(grant_request("paid", account, CreditKind::PaidMembership))
        .await
        .unwrap();
    let lifetime = app
        .grant(grant_request(
            "lifetime",
            account,
            CreditKind::LifetimeMembership,
        ))
        .await
        .unwrap();
    assert_eq!(lifetime.membership.as_ref().unwrap().tier(), Tier::Lifetime);
    let lifetime_id = lifetime.credit.unwrap().credit_id;

    let void = |key: &str, target: &str| GrantCreditRequest {
        voids_credit_id: target.to_owned(),
        ..grant_request(key, account, CreditKind::Void)
    };
    let voided = app.grant(void("void-1", &lifetime_id)).await.unwrap();
    let membership = voided.membership.unwrap();
    assert_eq!(membership.tier(), Tier::Paid, "back to the paid period");
    assert_eq!(membership.paid_until, paid.membership.unwrap().paid_until);
    let void_credit = voided.credit.unwrap();
    assert_eq!(void_credit.kind(), CreditKind::Void);
    assert_eq!(void_credit.voids_credit_id, lifetime_id);

    let again = app.grant(void("void-2", &lifetime_id)).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    let of_void = app
        .grant(void("void-3", &void_credit.credit_id))
        .await
        .unwrap_err();
    assert_eq!(of_void.code(), tonic::Code::FailedPrecondition);
    let missing = app
        .grant(void("void-4", &Uuid::new_v4().to_string()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let credits = app.credits_of(account).await;
    assert_eq!(credits.len(), 3);
    let original = credits.iter().find(|c| c.credit_id == lifetime_id).unwrap();
    assert_eq!(original.voided_by_credit_id, void_credit.credit_id);
}

#[tokio::test]
async fn the_tier_recomputed_from_the_ledger_equals_the_stored_tier() {
    let app = TestApp::spawn().await;
    let accounts = accounts(6);
    // A mix of grants, then a breach over all of them, then voids.
    app.grant(grant_request(
        "a0-paid",
        accounts[0],
        CreditKind::PaidMembership,
    ))
    .await
    .unwrap();
    app.grant(grant_request(
        "a0-more",
        accounts[0],
        CreditKind::PaidMembership,
    ))
    .await
    .unwrap();
    app.grant(grant_request(
        "a1-life",
        accounts[1],
        CreditKind::LifetimeMembership,
    ))
    .await
    .unwrap();
    app.grant(grant_request(
        "a2-cash",
        accounts[2],
        CreditKind::AccountCredit,
    ))
    .await
    .unwrap();
    app.grant(grant_request(
        "a3-paid",
        accounts[3],
        CreditKind::PaidMembership,
    ))
    .await
    .unwrap();
    let incident = incident_id();
    app.publish_breach(&incident, lifetime_compensation()).await;
    app.publish_batch(&incident, 1, &accounts).await;
    app.publish_enumeration(&incident, 6, 1).await;
    app.wait_until_complete(&incident).await;
    let breach_entry = app.credits_of(accounts[3]).await[0].credit_id.clone();
    app.grant(GrantCreditRequest {
        voids_credit_id: breach_entry,
        ..grant_request("a3-void", accounts[3], CreditKind::Void)
    })
    .await
    .unwrap();
    app.grant(grant_request(
        "a4-cash",
        accounts[4],
        CreditKind::AccountCredit,
    ))
    .await
    .unwrap();

    let mut conn = app.pool().acquire().await.unwrap();
    for account in &accounts {
        let entries: Vec<_> = credits::for_account(&mut conn, *account)
            .await
            .unwrap()
            .iter()
            .map(credits::CreditRow::entry)
            .collect();
        let replayed = MembershipState::replay(&entries);
        let stored = memberships::get(&mut conn, *account).await.unwrap();
        assert_eq!(stored.state, replayed, "account {account}");
    }
    let a3 = memberships::get(&mut conn, accounts[3]).await.unwrap();
    assert_eq!(
        a3.state.tier,
        Tier::Paid,
        "the voided lifetime falls back to paid"
    );
}

#[tokio::test]
async fn credits_are_listed_newest_first_in_pages_by_account_and_by_incident() {
    let app = TestApp::spawn().await;
    let account = Uuid::new_v4();
    for index in 0..7 {
        app.grant(grant_request(
            &format!("page-{index}"),
            account,
            CreditKind::AccountCredit,
        ))
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client()
            .list_credits(operator(ListCreditsRequest {
                account_id: account.to_string(),
                page_size: 3,
                page_token: token.clone(),
                ..ListCreditsRequest::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.credits.len() <= 3);
        seen.extend(page.credits.into_iter().map(|c| c.idempotency_key));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = (0..7).rev().map(|index| format!("page-{index}")).collect();
    assert_eq!(seen, expected);

    // A token used with other filters is refused.
    let first = app
        .client()
        .list_credits(operator(ListCreditsRequest {
            account_id: account.to_string(),
            page_size: 1,
            ..ListCreditsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let status = app
        .client()
        .list_credits(operator(ListCreditsRequest {
            account_id: Uuid::new_v4().to_string(),
            page_token: first.next_page_token,
            ..ListCreditsRequest::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().starts_with("page_token"));

    let status = app
        .client()
        .list_credits(operator(ListCreditsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    let incident = incident_id();
    let affected = accounts(5);
    app.publish_breach(&incident, lifetime_compensation()).await;
    app.publish_batch(&incident, 1, &affected).await;
    app.publish_enumeration(&incident, 5, 1).await;
    app.wait_until_complete(&incident).await;
    let by_incident = app
        .client()
        .list_credits(operator(ListCreditsRequest {
            incident_id: incident.clone(),
            page_size: 500,
            ..ListCreditsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_incident.credits.len(), 5);
    assert!(by_incident.next_page_token.is_empty());
}
