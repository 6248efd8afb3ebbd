//! GetThread: one thread by id.

use anyhow::Context as _;
use candor_proto::forum::v1::{GetThreadRequest, GetThreadResponse};

use super::{ForumApi, convert};
use crate::domain::fields::parse_uuid;
use crate::errors::GetThreadError;
use crate::store::threads;

pub(super) async fn get_thread(
    api: &ForumApi,
    request: GetThreadRequest,
) -> Result<GetThreadResponse, GetThreadError> {
    let thread_id = parse_uuid("thread_id", &request.thread_id)?;
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let row = threads::get(&mut conn, thread_id)
        .await
        .context("reading the thread")?
        .ok_or(GetThreadError::ThreadNotFound(thread_id))?;
    Ok(GetThreadResponse {
        thread: Some(convert::thread(&row, &api.links)),
    })
}
