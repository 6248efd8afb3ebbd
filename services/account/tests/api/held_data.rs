//! What the account service held about each affected member travels with
//! them (`AffectedAccount.held_data_classes`), so that a member imported
//! without a password hash is never told their hash was taken.

use candor_proto::account::v1::{ImportAccountsRequest, ImportRecord};
use candor_proto::events::v1::{AffectedAccount, DataClass, PasswordResetScope};
use candor_testkit::environment::OPERATOR_TOKEN;

use crate::breach::{breach, collect, observe, publish};
use crate::helpers::{TestApp, with_token};

fn classes(account: &AffectedAccount) -> Vec<DataClass> {
    let mut held: Vec<DataClass> = account
        .held_data_classes
        .iter()
        .map(|class| DataClass::try_from(*class).unwrap())
        .collect();
    held.sort_by_key(|class| *class as i32);
    held
}

#[tokio::test]
async fn each_affected_member_carries_the_data_classes_held_about_them() {
    let app = TestApp::spawn().await;
    let observer = observe(&app.environment.broker).await;
    let registered = app.register("with@example.com", "With Password").await;
    app.set_joined_at(&registered.account_id, "2010-05-01T00:00:00Z")
        .await;
    // Imported from the old site without a password hash.
    let response = app
        .client
        .clone()
        .import_accounts(with_token(
            OPERATOR_TOKEN,
            tokio_stream::iter([ImportAccountsRequest {
                records: vec![ImportRecord {
                    line_number: 2,
                    email: "nohash@example.com".to_owned(),
                    display_name: "No Hash".to_owned(),
                    joined_at: Some(prost_types::Timestamp {
                        seconds: 1_262_304_000,
                        nanos: 0,
                    }),
                    password_hash: None,
                }],
            }]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.imported, 1);

    publish(
        &app.environment.broker,
        &breach("held-data", PasswordResetScope::All),
    )
    .await;
    let published = collect(&app.environment.broker, &observer).await;
    let accounts: Vec<&AffectedAccount> = published
        .batches
        .values()
        .flat_map(|batch| &batch.accounts)
        .collect();
    assert_eq!(accounts.len(), 2);
    let by_email = |email: &str| {
        *accounts
            .iter()
            .find(|account| account.email == email)
            .unwrap()
    };
    assert_eq!(
        classes(by_email("with@example.com")),
        [
            DataClass::EmailAddress,
            DataClass::PasswordHash,
            DataClass::DisplayName
        ]
    );
    assert_eq!(
        classes(by_email("nohash@example.com")),
        [DataClass::EmailAddress, DataClass::DisplayName]
    );
    for batch in published.batches.values() {
        assert_eq!(batch.validate(), Ok(()));
    }

    // ListAffectedAccounts says the same.
    let listed = app.affected_accounts("held-data").await;
    for entry in &listed.accounts {
        let account = entry.account.as_ref().unwrap();
        assert_eq!(classes(account), classes(by_email(&account.email)));
    }
}
