//! Changing posts and threads: EditPost, DeletePost (author or staff),
//! PinThread and LockThread (staff).

use anyhow::Context as _;
use candor_proto::forum::v1::*;
use tonic::Request;
use uuid::Uuid;

use super::{ForumApi, convert};
use crate::errors::{ModerationError, parse_uuid};
use crate::posting::check_body;
use crate::sessions::Caller;
use crate::store::threads::ThreadFlag;
use crate::store::{PostRow, ThreadRow, posts, threads};

impl ForumApi {
    #[tracing::instrument(skip_all, fields(post_id = %request.get_ref().post_id))]
    pub(super) async fn edit(
        &self,
        request: Request<EditPostRequest>,
    ) -> Result<EditPostResponse, ModerationError> {
        let caller = self.sessions.caller(&request).await?;
        let request = request.into_inner();
        let post_id = parse_uuid("post_id", &request.post_id)?;
        let body = check_body("body", &request.body)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let (post, thread) = post_and_thread(&mut tx, post_id).await?;
        ensure_author_or_staff(&caller, &post)?;
        if post.deleted_at.is_some() {
            return Err(ModerationError::PostDeleted(post_id));
        }
        if thread.locked && !caller.is_staff() {
            return Err(ModerationError::ThreadLocked(thread.thread_id));
        }
        posts::set_body(&mut tx, post_id, &body)
            .await
            .context("editing the post")?;
        let post = reread(&mut tx, post_id).await?;
        tx.commit().await.context("committing the edit")?;
        tracing::info!(account_id = %caller.account_id, "post edited");
        Ok(EditPostResponse {
            post: Some(convert::post(&post)),
        })
    }

    #[tracing::instrument(skip_all, fields(post_id = %request.get_ref().post_id))]
    pub(super) async fn delete(
        &self,
        request: Request<DeletePostRequest>,
    ) -> Result<DeletePostResponse, ModerationError> {
        let caller = self.sessions.caller(&request).await?;
        let post_id = parse_uuid("post_id", &request.get_ref().post_id)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let (post, thread) = post_and_thread(&mut tx, post_id).await?;
        ensure_author_or_staff(&caller, &post)?;
        if post.post_id == thread.first_post_id && !caller.is_staff() {
            return Err(ModerationError::FirstPostNeedsStaff);
        }
        posts::soft_delete(&mut tx, post_id)
            .await
            .context("deleting the post")?;
        let post = reread(&mut tx, post_id).await?;
        tx.commit().await.context("committing the deletion")?;
        tracing::info!(account_id = %caller.account_id, "post deleted");
        Ok(DeletePostResponse {
            post: Some(convert::post(&post)),
        })
    }

    #[tracing::instrument(skip_all, fields(thread_id = %request.get_ref().thread_id))]
    pub(super) async fn pin(
        &self,
        request: Request<PinThreadRequest>,
    ) -> Result<PinThreadResponse, ModerationError> {
        let pinned = request.get_ref().pinned;
        let thread = self.set_flag(request, ThreadFlag::Pinned, pinned).await?;
        tracing::info!(pinned, "thread pin changed");
        Ok(PinThreadResponse {
            thread: Some(thread),
        })
    }

    #[tracing::instrument(skip_all, fields(thread_id = %request.get_ref().thread_id))]
    pub(super) async fn lock(
        &self,
        request: Request<LockThreadRequest>,
    ) -> Result<LockThreadResponse, ModerationError> {
        let locked = request.get_ref().locked;
        let thread = self.set_flag(request, ThreadFlag::Locked, locked).await?;
        tracing::info!(locked, "thread lock changed");
        Ok(LockThreadResponse {
            thread: Some(thread),
        })
    }

    /// PinThread and LockThread: staff only, then one flag, then the thread
    /// as it now is.
    async fn set_flag<R: ThreadTarget>(
        &self,
        request: Request<R>,
        flag: ThreadFlag,
        value: bool,
    ) -> Result<Thread, ModerationError> {
        self.sessions.staff(&request).await?;
        let thread_id = parse_uuid("thread_id", request.get_ref().thread_id())?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        if !threads::set_flag(&mut conn, thread_id, flag, value)
            .await
            .context("setting a thread flag")?
        {
            return Err(ModerationError::ThreadNotFound(thread_id));
        }
        let thread = reread_thread(&mut conn, thread_id).await?;
        Ok(convert::thread(&thread, &self.links))
    }
}

/// A request naming the thread it acts on.
trait ThreadTarget {
    fn thread_id(&self) -> &str;
}

impl ThreadTarget for PinThreadRequest {
    fn thread_id(&self) -> &str {
        &self.thread_id
    }
}

impl ThreadTarget for LockThreadRequest {
    fn thread_id(&self) -> &str {
        &self.thread_id
    }
}

fn ensure_author_or_staff(caller: &Caller, post: &PostRow) -> Result<(), ModerationError> {
    if caller.is_staff() || caller.account_id == post.author_id {
        Ok(())
    } else {
        Err(ModerationError::NotAuthorOrStaff)
    }
}

/// The post and its thread, the thread row locked for the transaction.
async fn post_and_thread(
    conn: &mut sqlx::PgConnection,
    post_id: Uuid,
) -> Result<(PostRow, ThreadRow), ModerationError> {
    let post = posts::get(&mut *conn, post_id)
        .await
        .context("reading the post")?
        .ok_or(ModerationError::PostNotFound(post_id))?;
    threads::lock_for_posting(&mut *conn, post.thread_id)
        .await
        .context("locking the thread")?;
    // Read again under the lock: a concurrent edit or delete has finished.
    let post = reread(&mut *conn, post_id).await?;
    let thread = reread_thread(conn, post.thread_id).await?;
    Ok((post, thread))
}

async fn reread(conn: &mut sqlx::PgConnection, post_id: Uuid) -> Result<PostRow, ModerationError> {
    Ok(posts::get(conn, post_id)
        .await
        .context("reading the post back")?
        .context("the post is missing")?)
}

async fn reread_thread(
    conn: &mut sqlx::PgConnection,
    thread_id: Uuid,
) -> Result<ThreadRow, ModerationError> {
    Ok(threads::get(conn, thread_id)
        .await
        .context("reading the thread back")?
        .context("the thread is missing")?)
}
