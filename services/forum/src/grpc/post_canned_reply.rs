//! PostCannedReply: staff answer a post with a filled-in template.

use std::collections::HashMap;

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::forum::v1::{PostCannedReplyRequest, PostCannedReplyResponse};
use tonic::Request;

use super::{ForumApi, convert};
use crate::domain::canned;
use crate::domain::fields::{check_lookup_id, parse_optional_uuid, parse_uuid};
use crate::errors::PostCannedReplyError;
use crate::store::posting::{self, Reply};
use crate::store::{canned as canned_store, posts};

#[tracing::instrument(skip_all, fields(canned_reply_id = %request.get_ref().canned_reply_id))]
pub(super) async fn post_canned_reply(
    api: &ForumApi,
    request: Request<PostCannedReplyRequest>,
) -> Result<PostCannedReplyResponse, PostCannedReplyError> {
    let poster = api.poster(&request).await?;
    if !poster.is_staff() {
        return Err(PostCannedReplyError::NotStaff);
    }
    let request = request.into_inner();
    let answered_id = parse_uuid("in_reply_to_post_id", &request.in_reply_to_post_id)?;
    let request_id = parse_optional_uuid("request_id", &request.request_id)?;
    check_lookup_id("canned_reply_id", &request.canned_reply_id)?;
    canned::check_variables(&request.variables)
        .map_err(|error| InvalidField::new("variables", error))?;
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let template = canned_store::get(&mut conn, &request.canned_reply_id)
        .await
        .context("reading the canned reply")?
        .ok_or_else(|| {
            PostCannedReplyError::CannedReplyNotFound(request.canned_reply_id.clone())
        })?;
    let answered = posts::get(&mut conn, answered_id)
        .await
        .context("reading the answered post")?
        .ok_or(PostCannedReplyError::AnsweredPostNotFound(answered_id))?;
    drop(conn);

    let member_display_name = match (&answered.author_name, answered.author_deactivated) {
        (Some(name), false) => name.clone(),
        _ => "former member".to_owned(),
    };
    let built_in = HashMap::from([
        ("deactivation_url", api.links.deactivation()),
        ("password_reset_url", api.links.password_reset()),
        ("forum_url", api.links.forum()),
        (
            "member_display_name",
            canned::escape_markdown(&member_display_name),
        ),
        ("thread_url", api.links.forum_thread(answered.thread_id)),
    ]);
    let body = canned::fill(&template.body_template, &built_in, &request.variables)
        .map_err(|error| InvalidField::new("variables", error))?;
    let post = posting::reply(
        &api.pool,
        api.policy,
        &poster,
        &Reply {
            thread_id: answered.thread_id,
            body: &body,
            in_reply_to_post_id: Some(answered_id),
            canned_reply_id: Some(&template.canned_reply_id),
            request_id,
        },
    )
    .await?;
    Ok(PostCannedReplyResponse {
        post: Some(convert::post(&post)),
    })
}
