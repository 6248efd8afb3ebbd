//! The ForumService gRPC API. This file wires each RPC to its handler in
//! the modules below; each handler returns its operation's error enum, which
//! `crate::errors` turns into a status in one place.

mod canned;
pub mod convert;
mod moderation;
mod posts;
mod routes;
mod threads;

use std::sync::Arc;

use anyhow::Context as _;
use candor_platform::links::PublicLinks;
use candor_proto::forum::v1::forum_service_server::ForumService;
use candor_proto::forum::v1::*;
use prost::Message as _;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::page_cache::PageCache;
use crate::posting::PostingPolicy;
use crate::sessions::Sessions;

pub use routes::ForumRoutes;

/// The forum API's shared state.
pub struct ForumApi {
    pool: PgPool,
    sessions: Arc<Sessions>,
    links: PublicLinks,
    policy: PostingPolicy,
    pages: Arc<PageCache>,
}

impl ForumApi {
    pub fn new(
        pool: PgPool,
        sessions: Arc<Sessions>,
        links: PublicLinks,
        policy: PostingPolicy,
        pages: Arc<PageCache>,
    ) -> Self {
        Self {
            pool,
            sessions,
            links,
            policy,
            pages,
        }
    }

    /// Runs a write and then drops every cached page, so readers on this
    /// replica see it at once.
    async fn writing<T>(&self, write: impl Future<Output = T>) -> T {
        let result = write.await;
        self.pages.invalidate();
        result
    }
}

fn respond<T, E: Into<Status>>(result: Result<T, E>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Into::into)
}

#[tonic::async_trait]
impl ForumService for ForumApi {
    async fn list_boards(
        &self,
        _request: Request<ListBoardsRequest>,
    ) -> Result<Response<ListBoardsResponse>, Status> {
        respond(self.boards().await)
    }

    async fn create_thread(
        &self,
        request: Request<CreateThreadRequest>,
    ) -> Result<Response<CreateThreadResponse>, Status> {
        respond(self.writing(self.start_thread(request)).await)
    }

    async fn get_thread(
        &self,
        request: Request<GetThreadRequest>,
    ) -> Result<Response<GetThreadResponse>, Status> {
        respond(self.thread(request.into_inner()).await)
    }

    async fn list_threads(
        &self,
        request: Request<ListThreadsRequest>,
    ) -> Result<Response<ListThreadsResponse>, Status> {
        respond(self.threads_of_board(request.into_inner()).await)
    }

    async fn create_post(
        &self,
        request: Request<CreatePostRequest>,
    ) -> Result<Response<CreatePostResponse>, Status> {
        respond(self.writing(self.add_post(request)).await)
    }

    async fn list_posts(
        &self,
        request: Request<ListPostsRequest>,
    ) -> Result<Response<ListPostsResponse>, Status> {
        // `ForumRoutes` serves ListPosts from the encoded page without this
        // decode; this keeps the plain generated server complete.
        let page = self.posts_of_thread(request.into_inner()).await?;
        let page = ListPostsResponse::decode(page)
            .context("decoding a page we encoded")
            .map_err(candor_platform::grpc::internal_error)?;
        Ok(Response::new(page))
    }

    async fn edit_post(
        &self,
        request: Request<EditPostRequest>,
    ) -> Result<Response<EditPostResponse>, Status> {
        respond(self.writing(self.edit(request)).await)
    }

    async fn delete_post(
        &self,
        request: Request<DeletePostRequest>,
    ) -> Result<Response<DeletePostResponse>, Status> {
        respond(self.writing(self.delete(request)).await)
    }

    async fn pin_thread(
        &self,
        request: Request<PinThreadRequest>,
    ) -> Result<Response<PinThreadResponse>, Status> {
        respond(self.writing(self.pin(request)).await)
    }

    async fn lock_thread(
        &self,
        request: Request<LockThreadRequest>,
    ) -> Result<Response<LockThreadResponse>, Status> {
        respond(self.writing(self.lock(request)).await)
    }

    async fn get_incident_thread(
        &self,
        request: Request<GetIncidentThreadRequest>,
    ) -> Result<Response<GetIncidentThreadResponse>, Status> {
        respond(self.incident_thread(request.into_inner()).await)
    }

    async fn list_canned_replies(
        &self,
        request: Request<ListCannedRepliesRequest>,
    ) -> Result<Response<ListCannedRepliesResponse>, Status> {
        respond(self.canned_replies(request).await)
    }

    async fn post_canned_reply(
        &self,
        request: Request<PostCannedReplyRequest>,
    ) -> Result<Response<PostCannedReplyResponse>, Status> {
        respond(self.writing(self.answer_with_canned_reply(request)).await)
    }
}
