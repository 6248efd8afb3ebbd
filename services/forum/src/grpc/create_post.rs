//! CreatePost: a reply in a thread.

use candor_proto::forum::v1::{CreatePostRequest, CreatePostResponse};
use tonic::Request;

use super::{ForumApi, convert};
use crate::domain::fields::{parse_optional_uuid, parse_uuid};
use crate::errors::CreatePostError;
use crate::store::posting::{self, Reply};

#[tracing::instrument(skip_all, fields(thread_id))]
pub(super) async fn create_post(
    api: &ForumApi,
    request: Request<CreatePostRequest>,
) -> Result<CreatePostResponse, CreatePostError> {
    let poster = api.poster(&request).await?;
    let request = request.into_inner();
    tracing::Span::current().record("thread_id", request.thread_id.as_str());
    let thread_id = parse_uuid("thread_id", &request.thread_id)?;
    let in_reply_to_post_id =
        parse_optional_uuid("in_reply_to_post_id", &request.in_reply_to_post_id)?;
    let request_id = parse_optional_uuid("request_id", &request.request_id)?;
    let post = posting::reply(
        &api.pool,
        api.policy,
        &poster,
        &Reply {
            thread_id,
            body: &request.body,
            in_reply_to_post_id,
            canned_reply_id: None,
            request_id,
        },
    )
    .await?;
    Ok(CreatePostResponse {
        post: Some(convert::post(&post)),
    })
}
