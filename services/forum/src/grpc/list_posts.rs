//! ListPosts: one page of a thread, kept encoded in the page cache (see
//! `routes`, which sends it without decoding).

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::forum::v1::{ListPostsRequest, ListPostsResponse};
use prost::Message as _;
use prost::bytes::Bytes;

use super::{ForumApi, convert};
use crate::domain::fields::{check_page_token, parse_uuid};
use crate::domain::paging;
use crate::errors::ListPostsError;
use crate::page_cache::PageKey;
use crate::store::posts;

const DEFAULT_POST_PAGE: u32 = 50;
const MAX_POST_PAGE: u32 = 200;

/// One page of a thread, as an encoded `ListPostsResponse`.
pub(super) async fn list_posts(
    api: &ForumApi,
    request: ListPostsRequest,
) -> Result<Bytes, ListPostsError> {
    let thread_id = parse_uuid("thread_id", &request.thread_id)?;
    check_page_token(&request.page_token)?;
    let after_seq = if request.page_token.is_empty() {
        0
    } else {
        paging::decode_posts(thread_id, &request.page_token)
            .map_err(|_| InvalidField::new("page_token", "not a token issued for this thread"))?
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
    if let Some(page) = api.pages.get(&key) {
        return Ok(page);
    }
    let _filling = api.pages.fill_lock(&key).await;
    if let Some(page) = api.pages.get(&key) {
        return Ok(page);
    }
    let generation = api.pages.generation();
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let mut rows = posts::list(&mut conn, thread_id, after_seq, i64::from(page_size) + 1)
        .await
        .context("listing posts")?;
    if rows.is_empty()
        && !posts::thread_exists(&mut conn, thread_id)
            .await
            .context("checking the thread")?
    {
        return Err(ListPostsError::ThreadNotFound(thread_id));
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
    api.pages.put(key, page.clone(), generation);
    Ok(page)
}
