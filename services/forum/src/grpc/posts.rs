//! Posts: CreatePost and ListPosts.

use anyhow::Context as _;
use candor_proto::forum::v1::*;
use prost::Message as _;
use prost::bytes::Bytes;
use tonic::Request;

use super::{ForumApi, convert};
use crate::errors::{PostingError, ReadError, check_page_token, parse_optional_uuid, parse_uuid};
use crate::page_cache::PageKey;
use crate::paging;
use crate::posting::{self, Reply};
use crate::store::posts;

const DEFAULT_POST_PAGE: u32 = 50;
const MAX_POST_PAGE: u32 = 200;

impl ForumApi {
    #[tracing::instrument(skip_all, fields(thread_id))]
    pub(super) async fn add_post(
        &self,
        request: Request<CreatePostRequest>,
    ) -> Result<CreatePostResponse, PostingError> {
        let caller = self.sessions.caller(&request).await?;
        let request = request.into_inner();
        tracing::Span::current().record("thread_id", request.thread_id.as_str());
        let thread_id = parse_uuid("thread_id", &request.thread_id)?;
        let in_reply_to_post_id =
            parse_optional_uuid("in_reply_to_post_id", &request.in_reply_to_post_id)?;
        let request_id = parse_optional_uuid("request_id", &request.request_id)?;
        let post = posting::reply(
            &self.pool,
            self.policy,
            &caller,
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

    /// One page of a thread, as an encoded `ListPostsResponse`.
    pub(super) async fn posts_of_thread(
        &self,
        request: ListPostsRequest,
    ) -> Result<Bytes, ReadError> {
        let thread_id = parse_uuid("thread_id", &request.thread_id)?;
        check_page_token(&request.page_token)?;
        let after_seq = if request.page_token.is_empty() {
            0
        } else {
            paging::decode_posts(thread_id, &request.page_token).map_err(|_| {
                ReadError::InvalidArgument {
                    field: "page_token",
                    reason: "not a token issued for this thread".to_owned(),
                }
            })?
        };
        let page_size = match request.page_size {
            0 => DEFAULT_POST_PAGE,
            size => size.min(MAX_POST_PAGE),
        };
        let key = PageKey {
            thread_id,
            after_seq,
            page_size,
        };
        if let Some(page) = self.pages.get(&key) {
            return Ok(page);
        }
        let _filling = self.pages.fill_lock(&key).await;
        if let Some(page) = self.pages.get(&key) {
            return Ok(page);
        }
        let generation = self.pages.generation();
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let mut rows = posts::list(&mut conn, thread_id, after_seq, i64::from(page_size) + 1)
            .await
            .context("listing posts")?;
        if rows.is_empty()
            && !posts::thread_exists(&mut conn, thread_id)
                .await
                .context("checking the thread")?
        {
            return Err(ReadError::ThreadNotFound(thread_id));
        }
        let more = rows.len() > page_size as usize;
        rows.truncate(page_size as usize);
        let next_page_token = match rows.last() {
            Some(last) if more => paging::encode_posts(thread_id, last.seq),
            _ => String::new(),
        };
        let page = Bytes::from(
            ListPostsResponse {
                posts: rows.iter().map(convert::post).collect(),
                next_page_token,
            }
            .encode_to_vec(),
        );
        self.pages.put(key, page.clone(), generation);
        Ok(page)
    }
}
