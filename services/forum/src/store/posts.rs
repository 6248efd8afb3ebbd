//! Posts: appending under the thread lock, lookups, keyset listing, edit and
//! soft delete.

use sqlx::PgConnection;
use uuid::Uuid;

use super::PostRow;

/// A reply to add to a thread.
#[derive(Debug, Clone)]
pub struct NewPost<'a> {
    pub post_id: Uuid,
    pub thread_id: Uuid,
    pub author_id: Uuid,
    pub body: &'a str,
    pub in_reply_to_post_id: Option<Uuid>,
    pub canned_reply_id: Option<&'a str>,
    pub request_id: Option<Uuid>,
}

/// Appends a post: the next position in the thread and a creation time
/// strictly after the thread's previous activity, bumping the thread's
/// counters. Call with the thread row locked ([`super::threads::lock_for_posting`]).
pub async fn append(conn: &mut PgConnection, post: &NewPost<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH bumped AS (
             UPDATE threads
                SET post_count = post_count + 1,
                    last_activity_at = GREATEST(clock_timestamp(), last_activity_at + interval '1 microsecond')
              WHERE thread_id = $1
             RETURNING post_count, last_activity_at
         )
         INSERT INTO posts (post_id, thread_id, seq, author_id, body, in_reply_to_post_id,
                            canned_reply_id, request_id, created_at)
         SELECT $2, $1, bumped.post_count, $3, $4, $5, $6, $7, bumped.last_activity_at FROM bumped",
        post.thread_id,
        post.post_id,
        post.author_id,
        post.body,
        post.in_reply_to_post_id,
        post.canned_reply_id,
        post.request_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, post_id: Uuid) -> sqlx::Result<Option<PostRow>> {
    sqlx::query_as!(
        PostRow,
        r#"SELECT p.post_id, p.thread_id, p.seq, p.body, p.in_reply_to_post_id,
                p.canned_reply_id, p.created_at, p.edited_at, p.deleted_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!"
         FROM posts p JOIN authors a ON a.account_id = p.author_id
         WHERE p.post_id = $1"#,
        post_id,
    )
    .fetch_optional(conn)
    .await
}

/// The post an author wrote with `request_id`, for retries.
pub async fn get_by_request(
    conn: &mut PgConnection,
    author_id: Uuid,
    request_id: Uuid,
) -> sqlx::Result<Option<PostRow>> {
    sqlx::query_as!(
        PostRow,
        r#"SELECT p.post_id, p.thread_id, p.seq, p.body, p.in_reply_to_post_id,
                p.canned_reply_id, p.created_at, p.edited_at, p.deleted_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!"
         FROM posts p JOIN authors a ON a.account_id = p.author_id
         WHERE p.author_id = $1 AND p.request_id = $2"#,
        author_id,
        request_id,
    )
    .fetch_optional(conn)
    .await
}

/// A live post of `author_id` with exactly `body` from the last 10 minutes.
pub async fn recent_duplicate(
    conn: &mut PgConnection,
    author_id: Uuid,
    body: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT post_id FROM posts
         WHERE author_id = $1 AND created_at > clock_timestamp() - interval '10 minutes'
           AND deleted_at IS NULL AND body = $2
         LIMIT 1",
        author_id,
        body,
    )
    .fetch_optional(conn)
    .await
}

/// Up to `limit` posts of a thread after position `after_seq`, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    thread_id: Uuid,
    after_seq: i32,
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    sqlx::query_as!(
        PostRow,
        r#"SELECT p.post_id, p.thread_id, p.seq, p.body, p.in_reply_to_post_id,
                p.canned_reply_id, p.created_at, p.edited_at, p.deleted_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!"
         FROM posts p JOIN authors a ON a.account_id = p.author_id
         WHERE p.thread_id = $1 AND p.seq > $2
         ORDER BY p.seq LIMIT $3"#,
        thread_id,
        after_seq,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn thread_exists(conn: &mut PgConnection, thread_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM threads WHERE thread_id = $1) AS "exists!""#,
        thread_id,
    )
    .fetch_one(conn)
    .await
}

pub async fn set_body(conn: &mut PgConnection, post_id: Uuid, body: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE posts SET body = $2, edited_at = clock_timestamp() WHERE post_id = $1",
        post_id,
        body,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Soft-deletes a post; a deleted post keeps its first deletion time.
pub async fn soft_delete(conn: &mut PgConnection, post_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE posts SET deleted_at = clock_timestamp() WHERE post_id = $1 AND deleted_at IS NULL",
        post_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}
