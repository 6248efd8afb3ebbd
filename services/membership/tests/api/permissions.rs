//! Every MembershipService RPC against the permission table, on the real
//! service: each caller outside its row is refused by name, an unknown
//! credential is UNAUTHENTICATED, the callers in the row get through.

use crate::helpers::TestApp;

#[tokio::test]
async fn every_rpc_refuses_callers_outside_its_row() {
    let app = TestApp::spawn().await;
    let channel = app.service.as_ref().unwrap().channel().await.unwrap();
    let checked = candor_testkit::permissions::check_every_rpc(
        channel,
        "candor.membership.v1.MembershipService",
    )
    .await
    .unwrap();
    assert_eq!(checked, 4);
}
