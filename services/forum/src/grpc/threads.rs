//! Boards and threads: ListBoards, CreateThread, GetThread, ListThreads,
//! GetIncidentThread.

use anyhow::Context as _;
use candor_proto::forum::v1::*;
use tonic::Request;

use super::{ForumApi, convert};
use crate::errors::{
    PostingError, ReadError, check_lookup_id, check_page_token, parse_optional_uuid, parse_uuid,
};
use crate::paging;
use crate::posting::{self, NewThreadDraft};
use crate::store::{boards, threads};

const DEFAULT_THREAD_PAGE: u32 = 25;
const MAX_THREAD_PAGE: u32 = 100;

impl ForumApi {
    pub(super) async fn boards(&self) -> Result<ListBoardsResponse, ReadError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let rows = boards::list(&mut conn).await.context("listing boards")?;
        Ok(ListBoardsResponse {
            boards: rows.into_iter().map(convert::board).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(board_id))]
    pub(super) async fn start_thread(
        &self,
        request: Request<CreateThreadRequest>,
    ) -> Result<CreateThreadResponse, PostingError> {
        let caller = self.sessions.caller(&request).await?;
        let request = request.into_inner();
        check_lookup_id("board_id", &request.board_id)?;
        tracing::Span::current().record("board_id", request.board_id.as_str());
        let request_id = parse_optional_uuid("request_id", &request.request_id)?;
        let (thread, first_post) = posting::start_thread(
            &self.pool,
            self.policy,
            &caller,
            &NewThreadDraft {
                board_id: &request.board_id,
                title: &request.title,
                body: &request.body,
                request_id,
            },
        )
        .await?;
        Ok(CreateThreadResponse {
            thread: Some(convert::thread(&thread, &self.links)),
            first_post: Some(convert::post(&first_post)),
        })
    }

    pub(super) async fn thread(
        &self,
        request: GetThreadRequest,
    ) -> Result<GetThreadResponse, ReadError> {
        let thread_id = parse_uuid("thread_id", &request.thread_id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let row = threads::get(&mut conn, thread_id)
            .await
            .context("reading the thread")?
            .ok_or(ReadError::ThreadNotFound(thread_id))?;
        Ok(GetThreadResponse {
            thread: Some(convert::thread(&row, &self.links)),
        })
    }

    #[tracing::instrument(skip_all, fields(board_id = %request.board_id))]
    pub(super) async fn threads_of_board(
        &self,
        request: ListThreadsRequest,
    ) -> Result<ListThreadsResponse, ReadError> {
        check_lookup_id("board_id", &request.board_id)?;
        check_page_token(&request.page_token)?;
        let cursor = if request.page_token.is_empty() {
            None
        } else {
            Some(
                paging::decode_threads(&request.board_id, &request.page_token).map_err(|_| {
                    ReadError::InvalidArgument {
                        field: "page_token",
                        reason: "not a token issued for this board".to_owned(),
                    }
                })?,
            )
        };
        let page_size = match request.page_size {
            0 => DEFAULT_THREAD_PAGE,
            size => size.min(MAX_THREAD_PAGE),
        };
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        if boards::get(&mut conn, &request.board_id)
            .await
            .context("reading the board")?
            .is_none()
        {
            return Err(ReadError::BoardNotFound(request.board_id));
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
                .map(|row| convert::thread(&row.thread, &self.links))
                .collect(),
            next_page_token,
        })
    }

    pub(super) async fn incident_thread(
        &self,
        request: GetIncidentThreadRequest,
    ) -> Result<GetIncidentThreadResponse, ReadError> {
        check_lookup_id("incident_id", &request.incident_id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let row = threads::get_by_incident(&mut conn, &request.incident_id)
            .await
            .context("reading the incident thread")?
            .ok_or(ReadError::IncidentThreadNotFound(request.incident_id))?;
        Ok(GetIncidentThreadResponse {
            thread: Some(convert::thread(&row, &self.links)),
        })
    }
}
