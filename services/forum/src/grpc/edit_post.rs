//! EditPost: the author or staff change a post's body.

use anyhow::Context as _;
use candor_proto::forum::v1::{EditPostRequest, EditPostResponse};
use tonic::Request;

use super::moderation::{author_or_staff, post_and_thread, reread};
use super::{ForumApi, convert};
use crate::domain::fields::parse_uuid;
use crate::domain::posting::check_body;
use crate::errors::EditPostError;
use crate::store::posts;

#[tracing::instrument(skip_all, fields(post_id = %request.get_ref().post_id))]
pub(super) async fn edit_post(
    api: &ForumApi,
    request: Request<EditPostRequest>,
) -> Result<EditPostResponse, EditPostError> {
    let poster = api.poster(&request).await?;
    let request = request.into_inner();
    let post_id = parse_uuid("post_id", &request.post_id)?;
    let body = check_body("body", &request.body)?;
    let mut tx = api
        .pool
        .begin()
        .await
        .context("beginning the transaction")?;
    let (post, thread) = post_and_thread(&mut tx, post_id)
        .await?
        .ok_or(EditPostError::PostNotFound(post_id))?;
    if !author_or_staff(&poster, &post) {
        return Err(EditPostError::NotAuthorOrStaff);
    }
    if post.deleted_at.is_some() {
        return Err(EditPostError::PostDeleted(post_id));
    }
    if thread.locked && !poster.is_staff() {
        return Err(EditPostError::ThreadLocked(thread.thread_id));
    }
    posts::set_body(&mut tx, post_id, &body)
        .await
        .context("editing the post")?;
    let post = reread(&mut tx, post_id).await?;
    tx.commit().await.context("committing the edit")?;
    tracing::info!(account_id = %poster.account_id, "post edited");
    Ok(EditPostResponse {
        post: Some(convert::post(&post)),
    })
}
