//! Writing posts, shared by CreateThread, CreatePost and PostCannedReply:
//! input limits, retry-safety by `request_id`, the thread lock, duplicate
//! protection and the per-member rate limit, in one transaction. Refusals
//! are the domain's (`domain::posting`), not the API's.

use std::time::Duration;

use anyhow::Context as _;
use candor_platform::db::{ConstraintViolation, constraint_violation};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::poster::{Poster, PosterKind};
use crate::domain::posting::{
    PostingError, PostingPolicy, PostingRefused, check_body, check_title,
};
use crate::store::authors::{self, PostingSlot};
use crate::store::threads::NewThread;
use crate::store::{PostRow, ThreadRow, boards, posts, threads};

/// A reply to write.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    pub thread_id: Uuid,
    pub body: &'a str,
    pub in_reply_to_post_id: Option<Uuid>,
    pub canned_reply_id: Option<&'a str>,
    pub request_id: Option<Uuid>,
}

/// Adds a reply to a thread as `caller`.
#[tracing::instrument(skip_all, fields(thread_id = %reply.thread_id, account_id = %caller.account_id))]
pub async fn reply(
    pool: &PgPool,
    policy: PostingPolicy,
    caller: &Poster,
    reply: &Reply<'_>,
) -> Result<PostRow, PostingError> {
    let body = check_body("body", reply.body)?;
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    if let Some(request_id) = reply.request_id
        && let Some(existing) = posts::get_by_request(&mut conn, caller.account_id, request_id)
            .await
            .context("looking up the request id")?
    {
        return Ok(existing);
    }
    drop(conn);

    let mut tx = pool.begin().await.context("beginning the transaction")?;
    match threads::lock_for_posting(&mut tx, reply.thread_id)
        .await
        .context("locking the thread")?
    {
        None => return Err(PostingRefused::ThreadNotFound(reply.thread_id).into()),
        Some(true) => return Err(PostingRefused::ThreadLocked(reply.thread_id).into()),
        Some(false) => {}
    }
    if let Some(answered) = reply.in_reply_to_post_id {
        let post = posts::get(&mut tx, answered)
            .await
            .context("reading the answered post")?;
        if post.is_none_or(|post| post.thread_id != reply.thread_id) {
            return Err(PostingRefused::PostNotFound(answered).into());
        }
    }
    if reply.canned_reply_id.is_none() {
        refuse_duplicate(&mut tx, caller, &body).await?;
    }
    take_slot(&mut tx, policy, caller).await?;

    let post_id = Uuid::now_v7();
    let appended = posts::append(
        &mut tx,
        &posts::NewPost {
            post_id,
            thread_id: reply.thread_id,
            author_id: caller.account_id,
            body: &body,
            in_reply_to_post_id: reply.in_reply_to_post_id,
            canned_reply_id: reply.canned_reply_id,
            request_id: reply.request_id,
        },
    )
    .await;
    if let Err(error) = appended {
        if let (Some(request_id), Some((ConstraintViolation::Unique, _))) =
            (reply.request_id, constraint_violation(&error))
        {
            drop(tx);
            return replayed_post(pool, caller.account_id, request_id).await;
        }
        return Err(anyhow::Error::new(error)
            .context("appending the post")
            .into());
    }
    let post = posts::get(&mut tx, post_id)
        .await
        .context("reading the new post")?
        .context("the new post is missing")?;
    tx.commit().await.context("committing the post")?;
    tracing::info!(post_id = %post_id, "post created");
    Ok(post)
}

/// A thread to start.
#[derive(Debug, Clone)]
pub struct NewThreadDraft<'a> {
    pub board_id: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub request_id: Option<Uuid>,
}

/// Starts a thread with its first post as `caller`.
#[tracing::instrument(skip_all, fields(board_id = %draft.board_id, account_id = %caller.account_id))]
pub async fn start_thread(
    pool: &PgPool,
    policy: PostingPolicy,
    caller: &Poster,
    draft: &NewThreadDraft<'_>,
) -> Result<(ThreadRow, PostRow), PostingError> {
    let title = check_title(draft.title)?;
    let body = check_body("body", draft.body)?;
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    let board = boards::get(&mut conn, draft.board_id)
        .await
        .context("reading the board")?
        .ok_or_else(|| PostingRefused::BoardNotFound(draft.board_id.to_owned()))?;
    if board.staff_only_threads && !caller.is_staff() {
        return Err(PostingRefused::StaffOnlyBoard(board.board_id).into());
    }
    if let Some(request_id) = draft.request_id
        && let Some(existing) = threads::get_by_request(&mut conn, caller.account_id, request_id)
            .await
            .context("looking up the request id")?
    {
        return with_first_post(&mut conn, existing).await;
    }
    drop(conn);

    let mut tx = pool.begin().await.context("beginning the transaction")?;
    refuse_duplicate(&mut tx, caller, &body).await?;
    take_slot(&mut tx, policy, caller).await?;
    let thread_id = Uuid::now_v7();
    let inserted = threads::insert(
        &mut tx,
        &NewThread {
            thread_id,
            first_post_id: Uuid::now_v7(),
            board_id: draft.board_id,
            title: &title,
            body: &body,
            author_id: caller.account_id,
            pinned: false,
            incident_id: None,
            incident_digest: None,
            request_id: draft.request_id,
        },
    )
    .await;
    if let Err(error) = inserted {
        if let (Some(request_id), Some((ConstraintViolation::Unique, _))) =
            (draft.request_id, constraint_violation(&error))
        {
            drop(tx);
            let mut conn = pool.acquire().await.context("acquiring a connection")?;
            let existing = threads::get_by_request(&mut conn, caller.account_id, request_id)
                .await
                .context("reading the replayed thread")?
                .context("the replayed thread is missing")?;
            return with_first_post(&mut conn, existing).await;
        }
        return Err(anyhow::Error::new(error)
            .context("inserting the thread")
            .into());
    }
    let thread = threads::get(&mut tx, thread_id)
        .await
        .context("reading the new thread")?
        .context("the new thread is missing")?;
    let (thread, first_post) = with_first_post(&mut tx, thread).await?;
    tx.commit().await.context("committing the thread")?;
    tracing::info!(thread_id = %thread_id, "thread created");
    Ok((thread, first_post))
}

async fn with_first_post(
    conn: &mut sqlx::PgConnection,
    thread: ThreadRow,
) -> Result<(ThreadRow, PostRow), PostingError> {
    let first_post = posts::get(conn, thread.first_post_id)
        .await
        .context("reading the first post")?
        .context("the first post is missing")?;
    Ok((thread, first_post))
}

async fn replayed_post(
    pool: &PgPool,
    author_id: Uuid,
    request_id: Uuid,
) -> Result<PostRow, PostingError> {
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    let post = posts::get_by_request(&mut conn, author_id, request_id)
        .await
        .context("reading the replayed post")?
        .context("the replayed post is missing")?;
    Ok(post)
}

async fn refuse_duplicate(
    conn: &mut sqlx::PgConnection,
    caller: &Poster,
    body: &str,
) -> Result<(), PostingError> {
    let duplicate = posts::recent_duplicate(conn, caller.account_id, body)
        .await
        .context("checking for a duplicate post")?;
    match duplicate {
        Some(post_id) => Err(PostingRefused::Duplicate(post_id).into()),
        None => Ok(()),
    }
}

async fn take_slot(
    conn: &mut sqlx::PgConnection,
    policy: PostingPolicy,
    caller: &Poster,
) -> Result<(), PostingError> {
    let interval = match caller.kind {
        PosterKind::System => return Ok(()),
        PosterKind::Staff => Duration::ZERO,
        PosterKind::Member => policy.member_interval,
    };
    let slot = authors::take_posting_slot(
        conn,
        caller.account_id,
        &caller.display_name,
        caller.is_staff(),
        interval,
    )
    .await
    .context("recording the author")?;
    match slot {
        PostingSlot::Granted => Ok(()),
        PostingSlot::RateLimited {
            retry_after_seconds,
        } => Err(PostingRefused::RateLimited(retry_after_seconds).into()),
        PostingSlot::Deactivated => Err(PostingRefused::Deactivated.into()),
    }
}
