//! Every ForumService RPC against the permission table, on the real
//! service: each caller outside its row is refused by name, an unknown
//! credential is UNAUTHENTICATED, the callers in the row get through.

use crate::support::forum::TestForum;

#[tokio::test]
async fn every_rpc_refuses_callers_outside_its_row() {
    let forum = TestForum::start().await;
    let checked = candor_testkit::permissions::check_every_rpc(
        forum.service.channel().await.unwrap(),
        "candor.forum.v1.ForumService",
    )
    .await
    .unwrap();
    assert_eq!(checked, 13);
}
