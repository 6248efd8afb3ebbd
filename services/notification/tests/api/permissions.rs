//! Every NotificationService RPC against the permission table, on the real
//! service: each caller outside its row is refused by name, an unknown
//! credential is UNAUTHENTICATED, the callers in the row get through.

use candor_testkit::environment::TestEnvironment;

use crate::helpers::{config, start};

#[tokio::test]
async fn every_rpc_refuses_callers_outside_its_row() {
    candor_testkit::tracing::init();
    let environment = TestEnvironment::new().await.unwrap();
    let smtp = candor_testkit::smtp::SmtpSink::start().unwrap();
    let service = start(config(&environment, &smtp.url())).await;
    let checked = candor_testkit::permissions::check_every_rpc(
        service.channel().await.unwrap(),
        "candor.notification.v1.NotificationService",
    )
    .await
    .unwrap();
    assert_eq!(checked, 8);
    service.stop().await.unwrap();
}
