//! Canned staff replies: ListCannedReplies and PostCannedReply.

use std::collections::HashMap;

use anyhow::Context as _;
use candor_proto::forum::v1::*;
use tonic::Request;

use super::{ForumApi, convert};
use crate::canned;
use crate::errors::{PostingError, ReadError, check_lookup_id, parse_optional_uuid, parse_uuid};
use crate::posting::{self, Reply};
use crate::store::{canned as canned_store, posts};

impl ForumApi {
    pub(super) async fn canned_replies(
        &self,
        request: Request<ListCannedRepliesRequest>,
    ) -> Result<ListCannedRepliesResponse, ReadError> {
        self.sessions.staff(&request).await?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let rows = canned_store::list(&mut conn)
            .await
            .context("listing canned replies")?;
        Ok(ListCannedRepliesResponse {
            canned_replies: rows.into_iter().map(convert::canned_reply).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(canned_reply_id = %request.get_ref().canned_reply_id))]
    pub(super) async fn answer_with_canned_reply(
        &self,
        request: Request<PostCannedReplyRequest>,
    ) -> Result<PostCannedReplyResponse, PostingError> {
        let caller = self.sessions.staff(&request).await?;
        let request = request.into_inner();
        let answered_id = parse_uuid("in_reply_to_post_id", &request.in_reply_to_post_id)?;
        let request_id = parse_optional_uuid("request_id", &request.request_id)?;
        check_lookup_id("canned_reply_id", &request.canned_reply_id)?;
        canned::check_variables(&request.variables).map_err(|error| {
            PostingError::InvalidArgument {
                field: "variables",
                reason: error.to_string(),
            }
        })?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let template = canned_store::get(&mut conn, &request.canned_reply_id)
            .await
            .context("reading the canned reply")?
            .ok_or_else(|| PostingError::CannedReplyNotFound(request.canned_reply_id.clone()))?;
        let answered = posts::get(&mut conn, answered_id)
            .await
            .context("reading the answered post")?
            .ok_or(PostingError::PostNotFound(answered_id))?;
        drop(conn);

        let member_display_name = match (&answered.author_name, answered.author_deactivated) {
            (Some(name), false) => name.clone(),
            _ => "former member".to_owned(),
        };
        let built_in = HashMap::from([
            ("deactivation_url", self.links.deactivation()),
            ("password_reset_url", self.links.password_reset()),
            ("forum_url", self.links.forum()),
            (
                "member_display_name",
                canned::escape_markdown(&member_display_name),
            ),
            ("thread_url", self.links.forum_thread(answered.thread_id)),
        ]);
        let body = canned::fill(&template.body_template, &built_in, &request.variables).map_err(
            |error| PostingError::InvalidArgument {
                field: "variables",
                reason: error.to_string(),
            },
        )?;
        let post = posting::reply(
            &self.pool,
            self.policy,
            &caller,
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
}
