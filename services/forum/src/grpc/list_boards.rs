//! ListBoards: every board.

use anyhow::Context as _;
use candor_proto::forum::v1::ListBoardsResponse;

use super::{ForumApi, convert};
use crate::errors::ListBoardsError;
use crate::store::boards;

pub(super) async fn list_boards(api: &ForumApi) -> Result<ListBoardsResponse, ListBoardsError> {
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let rows = boards::list(&mut conn).await.context("listing boards")?;
    Ok(ListBoardsResponse {
        boards: rows.into_iter().map(convert::board).collect(),
    })
}
