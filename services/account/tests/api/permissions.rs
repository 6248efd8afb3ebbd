//! Every AccountService RPC against the permission table, on the real
//! service: each caller outside its row is refused by name, an unknown
//! credential is UNAUTHENTICATED, the callers in the row get through.

use crate::helpers::TestApp;

#[tokio::test]
async fn every_rpc_refuses_callers_outside_its_row() {
    let app = TestApp::spawn().await;
    let checked = candor_testkit::permissions::check_every_rpc(
        app.channel().await,
        "candor.account.v1.AccountService",
    )
    .await
    .unwrap();
    assert!(checked >= 14, "{checked}");
}
