//! DeletePost: the author or staff delete a post (the first post of a
//! thread: staff only). The post stays as a tombstone.

use anyhow::Context as _;
use candor_proto::forum::v1::{DeletePostRequest, DeletePostResponse};
use tonic::Request;

use super::moderation::{author_or_staff, post_and_thread, reread};
use super::{ForumApi, convert};
use crate::domain::fields::parse_uuid;
use crate::errors::DeletePostError;
use crate::store::posts;

#[tracing::instrument(skip_all, fields(post_id = %request.get_ref().post_id))]
pub(super) async fn delete_post(
    api: &ForumApi,
    request: Request<DeletePostRequest>,
) -> Result<DeletePostResponse, DeletePostError> {
    let poster = api.poster(&request).await?;
    let post_id = parse_uuid("post_id", &request.get_ref().post_id)?;
    let mut tx = api
        .pool
        .begin()
        .await
        .context("beginning the transaction")?;
    let (post, thread) = post_and_thread(&mut tx, post_id)
        .await?
        .ok_or(DeletePostError::PostNotFound(post_id))?;
    if !author_or_staff(&poster, &post) {
        return Err(DeletePostError::NotAuthorOrStaff);
    }
    if post.post_id == thread.first_post_id && !poster.is_staff() {
        return Err(DeletePostError::FirstPostNeedsStaff);
    }
    posts::soft_delete(&mut tx, post_id)
        .await
        .context("deleting the post")?;
    let post = reread(&mut tx, post_id).await?;
    tx.commit().await.context("committing the deletion")?;
    tracing::info!(account_id = %poster.account_id, "post deleted");
    Ok(DeletePostResponse {
        post: Some(convert::post(&post)),
    })
}
