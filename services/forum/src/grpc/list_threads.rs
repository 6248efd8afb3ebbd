//! ListThreads: a board's threads, pinned first, then by activity, paged
//! by a token bound to the board.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::forum::v1::{ListThreadsRequest, ListThreadsResponse};

use super::{ForumApi, convert};
use crate::domain::fields::{check_lookup_id, check_page_token};
use crate::domain::paging;
use crate::errors::ListThreadsError;
use crate::store::{boards, threads};

const DEFAULT_THREAD_PAGE: u32 = 25;
const MAX_THREAD_PAGE: u32 = 100;

#[tracing::instrument(skip_all, fields(board_id = %request.board_id))]
pub(super) async fn list_threads(
    api: &ForumApi,
    request: ListThreadsRequest,
) -> Result<ListThreadsResponse, ListThreadsError> {
    check_lookup_id("board_id", &request.board_id)?;
    check_page_token(&request.page_token)?;
    let cursor = if request.page_token.is_empty() {
        None
    } else {
        Some(
            paging::decode_threads(&request.board_id, &request.page_token).map_err(|_| {
                InvalidField::new("page_token", "not a token issued for this board")
            })?,
        )
    };
    let page_size = match request.page_size {
        0 => DEFAULT_THREAD_PAGE,
        size => size.min(MAX_THREAD_PAGE),
    };
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    if boards::get(&mut conn, &request.board_id)
        .await
        .context("reading the board")?
        .is_none()
    {
        return Err(ListThreadsError::BoardNotFound(request.board_id));
    }
    let mut rows = threads::list(
        &mut conn,
        &request.board_id,
        cursor.as_ref(),
        i64::from(page_size) + 1,
    )
    .await
    .context("listing threads")?;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let next_page_token = match rows.last() {
        Some(last) if more => paging::encode_threads(
            &request.board_id,
            &threads::ThreadCursor {
                as_of: last.as_of,
                pinned: last.thread.pinned,
                activity: last.activity_as_of,
                thread_id: last.thread.thread_id,
            },
        ),
        _ => String::new(),
    };
    Ok(ListThreadsResponse {
        threads: rows
            .iter()
            .map(|row| convert::thread(&row.thread, &api.links))
            .collect(),
        next_page_token,
    })
}
