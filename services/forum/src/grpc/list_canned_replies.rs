//! ListCannedReplies: the staff's reply templates (staff only).

use anyhow::Context as _;
use candor_proto::forum::v1::{ListCannedRepliesRequest, ListCannedRepliesResponse};
use tonic::Request;

use super::{ForumApi, convert};
use crate::errors::ListCannedRepliesError;
use crate::store::canned;

pub(super) async fn list_canned_replies(
    api: &ForumApi,
    request: Request<ListCannedRepliesRequest>,
) -> Result<ListCannedRepliesResponse, ListCannedRepliesError> {
    if !api.poster(&request).await?.is_staff() {
        return Err(ListCannedRepliesError::NotStaff);
    }
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let rows = canned::list(&mut conn)
        .await
        .context("listing canned replies")?;
    Ok(ListCannedRepliesResponse {
        canned_replies: rows.into_iter().map(convert::canned_reply).collect(),
    })
}
