//! What the moderation RPCs share: EditPost and DeletePost read the post
//! and its thread under the thread's lock; PinThread and LockThread set one
//! flag of a thread (staff only).

use anyhow::Context as _;
use candor_proto::forum::v1::{LockThreadRequest, PinThreadRequest, Thread};
use sqlx::PgConnection;
use tonic::Request;
use uuid::Uuid;

use super::{ForumApi, convert};
use crate::domain::fields::parse_uuid;
use crate::domain::poster::Poster;
use crate::errors::SetThreadFlagError;
use crate::store::threads::ThreadFlag;
use crate::store::{PostRow, ThreadRow, posts, threads};

/// Whether `poster` may change `post`: its author, or staff.
pub(super) fn author_or_staff(poster: &Poster, post: &PostRow) -> bool {
    poster.is_staff() || poster.account_id == post.author_id
}

/// The post and its thread, the thread row locked for the transaction;
/// `None` when the post does not exist.
pub(super) async fn post_and_thread(
    conn: &mut PgConnection,
    post_id: Uuid,
) -> anyhow::Result<Option<(PostRow, ThreadRow)>> {
    let Some(post) = posts::get(&mut *conn, post_id)
        .await
        .context("reading the post")?
    else {
        return Ok(None);
    };
    threads::lock_for_posting(&mut *conn, post.thread_id)
        .await
        .context("locking the thread")?;
    // Read again under the lock: a concurrent edit or delete has finished.
    let post = reread(&mut *conn, post_id).await?;
    let thread = reread_thread(conn, post.thread_id).await?;
    Ok(Some((post, thread)))
}

/// The post as it now is (it exists: the caller found it).
pub(super) async fn reread(conn: &mut PgConnection, post_id: Uuid) -> anyhow::Result<PostRow> {
    posts::get(conn, post_id)
        .await
        .context("reading the post back")?
        .context("the post is missing")
}

async fn reread_thread(conn: &mut PgConnection, thread_id: Uuid) -> anyhow::Result<ThreadRow> {
    threads::get(conn, thread_id)
        .await
        .context("reading the thread back")?
        .context("the thread is missing")
}

/// A request naming the thread it acts on.
pub(super) trait ThreadTarget {
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

/// PinThread and LockThread: staff only, then one flag, then the thread
/// as it now is.
pub(super) async fn set_thread_flag<R: ThreadTarget>(
    api: &ForumApi,
    request: Request<R>,
    flag: ThreadFlag,
    value: bool,
) -> Result<Thread, SetThreadFlagError> {
    if !api.poster(&request).await?.is_staff() {
        return Err(SetThreadFlagError::NotStaff);
    }
    let thread_id = parse_uuid("thread_id", request.get_ref().thread_id())?;
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    if !threads::set_flag(&mut conn, thread_id, flag, value)
        .await
        .context("setting a thread flag")?
    {
        return Err(SetThreadFlagError::ThreadNotFound(thread_id));
    }
    let thread = reread_thread(&mut conn, thread_id).await?;
    Ok(convert::thread(&thread, &api.links))
}
