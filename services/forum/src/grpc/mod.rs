//! The ForumService gRPC API: this file only routes each RPC to its file
//! (named after it), drops cached pages after each write, and answers each
//! error through the platform's error-kind table.

mod convert;
mod create_post;
mod create_thread;
mod delete_post;
mod edit_post;
mod get_incident_thread;
mod get_thread;
mod list_boards;
mod list_canned_replies;
mod list_posts;
mod list_threads;
mod lock_thread;
mod moderation;
mod pin_thread;
mod post_canned_reply;
mod routes;

use std::sync::Arc;

use anyhow::Context as _;
use candor_platform::auth::{SessionError, SessionResolver};
use candor_platform::grpc::{internal_error, respond, status_of};
use candor_platform::links::PublicLinks;
use candor_proto::forum::v1::forum_service_server::ForumService;
use candor_proto::forum::v1::*;
use prost::Message as _;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::domain::poster::Poster;
use crate::domain::posting::PostingPolicy;
use crate::page_cache::PageCache;

pub use routes::ForumRoutes;

/// The forum API's shared state.
pub struct ForumApi {
    pool: PgPool,
    sessions: Arc<SessionResolver>,
    links: PublicLinks,
    policy: PostingPolicy,
    pages: Arc<PageCache>,
}

impl ForumApi {
    pub fn new(
        pool: PgPool,
        sessions: Arc<SessionResolver>,
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

    /// Who writes: the member of the session, or the system account for a
    /// caller acting in its own right.
    async fn poster<T>(&self, request: &Request<T>) -> Result<Poster, SessionError> {
        Ok(Poster::of(self.sessions.resolve(request).await?))
    }

    /// Runs a write and then drops every cached page, so readers on this
    /// replica see it at once.
    async fn writing<T>(&self, write: impl Future<Output = T>) -> T {
        let result = write.await;
        self.pages.invalidate();
        result
    }
}

#[tonic::async_trait]
impl ForumService for ForumApi {
    async fn list_boards(
        &self,
        _request: Request<ListBoardsRequest>,
    ) -> Result<Response<ListBoardsResponse>, Status> {
        respond(list_boards::list_boards(self).await)
    }

    async fn create_thread(
        &self,
        request: Request<CreateThreadRequest>,
    ) -> Result<Response<CreateThreadResponse>, Status> {
        respond(
            self.writing(create_thread::create_thread(self, request))
                .await,
        )
    }

    async fn get_thread(
        &self,
        request: Request<GetThreadRequest>,
    ) -> Result<Response<GetThreadResponse>, Status> {
        respond(get_thread::get_thread(self, request.into_inner()).await)
    }

    async fn list_threads(
        &self,
        request: Request<ListThreadsRequest>,
    ) -> Result<Response<ListThreadsResponse>, Status> {
        respond(list_threads::list_threads(self, request.into_inner()).await)
    }

    async fn create_post(
        &self,
        request: Request<CreatePostRequest>,
    ) -> Result<Response<CreatePostResponse>, Status> {
        respond(self.writing(create_post::create_post(self, request)).await)
    }

    async fn list_posts(
        &self,
        request: Request<ListPostsRequest>,
    ) -> Result<Response<ListPostsResponse>, Status> {
        // `ForumRoutes` serves ListPosts from the encoded page without this
        // decode; this keeps the plain generated server complete.
        let page = list_posts::list_posts(self, request.into_inner())
            .await
            .map_err(|error| status_of(&error))?;
        let page = ListPostsResponse::decode(page)
            .context("decoding a page we encoded")
            .map_err(internal_error)?;
        Ok(Response::new(page))
    }

    async fn edit_post(
        &self,
        request: Request<EditPostRequest>,
    ) -> Result<Response<EditPostResponse>, Status> {
        respond(self.writing(edit_post::edit_post(self, request)).await)
    }

    async fn delete_post(
        &self,
        request: Request<DeletePostRequest>,
    ) -> Result<Response<DeletePostResponse>, Status> {
        respond(self.writing(delete_post::delete_post(self, request)).await)
    }

    async fn pin_thread(
        &self,
        request: Request<PinThreadRequest>,
    ) -> Result<Response<PinThreadResponse>, Status> {
        respond(self.writing(pin_thread::pin_thread(self, request)).await)
    }

    async fn lock_thread(
        &self,
        request: Request<LockThreadRequest>,
    ) -> Result<Response<LockThreadResponse>, Status> {
        respond(self.writing(lock_thread::lock_thread(self, request)).await)
    }

    async fn get_incident_thread(
        &self,
        request: Request<GetIncidentThreadRequest>,
    ) -> Result<Response<GetIncidentThreadResponse>, Status> {
        respond(get_incident_thread::get_incident_thread(self, request.into_inner()).await)
    }

    async fn list_canned_replies(
        &self,
        request: Request<ListCannedRepliesRequest>,
    ) -> Result<Response<ListCannedRepliesResponse>, Status> {
        respond(list_canned_replies::list_canned_replies(self, request).await)
    }

    async fn post_canned_reply(
        &self,
        request: Request<PostCannedReplyRequest>,
    ) -> Result<Response<PostCannedReplyResponse>, Status> {
        respond(
            self.writing(post_canned_reply::post_canned_reply(self, request))
                .await,
        )
    }
}
