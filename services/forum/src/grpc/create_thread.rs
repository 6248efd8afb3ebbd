//! CreateThread: a new thread with its first post.

use candor_proto::forum::v1::{CreateThreadRequest, CreateThreadResponse};
use tonic::Request;

use super::{ForumApi, convert};
use crate::domain::fields::{check_lookup_id, parse_optional_uuid};
use crate::errors::CreateThreadError;
use crate::store::posting::{self, NewThreadDraft};

#[tracing::instrument(skip_all, fields(board_id))]
pub(super) async fn create_thread(
    api: &ForumApi,
    request: Request<CreateThreadRequest>,
) -> Result<CreateThreadResponse, CreateThreadError> {
    let poster = api.poster(&request).await?;
    let request = request.into_inner();
    check_lookup_id("board_id", &request.board_id)?;
    tracing::Span::current().record("board_id", request.board_id.as_str());
    let request_id = parse_optional_uuid("request_id", &request.request_id)?;
    let (thread, first_post) = posting::start_thread(
        &api.pool,
        api.policy,
        &poster,
        &NewThreadDraft {
            board_id: &request.board_id,
            title: &request.title,
            body: &request.body,
            request_id,
        },
    )
    .await?;
    Ok(CreateThreadResponse {
        thread: Some(convert::thread(&thread, &api.links)),
        first_post: Some(convert::post(&first_post)),
    })
}
