//! Threads: creation (with the first post), lookups, the snapshot listing,
//! pin and lock.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::ThreadRow;

/// A thread to create with its first post.
#[derive(Debug, Clone)]
pub struct NewThread<'a> {
    pub thread_id: Uuid,
    pub first_post_id: Uuid,
    pub board_id: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub author_id: Uuid,
    pub pinned: bool,
    pub incident_id: Option<&'a str>,
    pub incident_digest: Option<&'a [u8]>,
    pub request_id: Option<Uuid>,
}

/// Inserts the thread and its first post (one statement, one timestamp).
pub async fn insert(conn: &mut PgConnection, thread: &NewThread<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH thread AS (
             INSERT INTO threads (thread_id, board_id, title, author_id, first_post_id, post_count,
                                  pinned, incident_id, incident_digest, request_id,
                                  created_at, last_activity_at)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, statement_timestamp(), statement_timestamp())
             RETURNING thread_id, created_at
         )
         INSERT INTO posts (post_id, thread_id, seq, author_id, body, created_at)
         SELECT $5, thread.thread_id, 1, $4, $10, thread.created_at FROM thread",
        thread.thread_id,
        thread.board_id,
        thread.title,
        thread.author_id,
        thread.first_post_id,
        thread.pinned,
        thread.incident_id,
        thread.incident_digest,
        thread.request_id,
        thread.body,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, thread_id: Uuid) -> sqlx::Result<Option<ThreadRow>> {
    sqlx::query_as!(
        ThreadRow,
        r#"SELECT t.thread_id, t.board_id, t.title, t.first_post_id, t.post_count, t.pinned,
                t.locked, t.incident_id, t.created_at, t.last_activity_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!"
         FROM threads t JOIN authors a ON a.account_id = t.author_id
         WHERE t.thread_id = $1"#,
        thread_id,
    )
    .fetch_optional(conn)
    .await
}

/// The thread an author created with `request_id`, for retries.
pub async fn get_by_request(
    conn: &mut PgConnection,
    author_id: Uuid,
    request_id: Uuid,
) -> sqlx::Result<Option<ThreadRow>> {
    sqlx::query_as!(
        ThreadRow,
        r#"SELECT t.thread_id, t.board_id, t.title, t.first_post_id, t.post_count, t.pinned,
                t.locked, t.incident_id, t.created_at, t.last_activity_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!"
         FROM threads t JOIN authors a ON a.account_id = t.author_id
         WHERE t.author_id = $1 AND t.request_id = $2"#,
        author_id,
        request_id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn get_by_incident(
    conn: &mut PgConnection,
    incident_id: &str,
) -> sqlx::Result<Option<ThreadRow>> {
    sqlx::query_as!(
        ThreadRow,
        r#"SELECT t.thread_id, t.board_id, t.title, t.first_post_id, t.post_count, t.pinned,
                t.locked, t.incident_id, t.created_at, t.last_activity_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!"
         FROM threads t JOIN authors a ON a.account_id = t.author_id
         WHERE t.incident_id = $1"#,
        incident_id,
    )
    .fetch_optional(conn)
    .await
}

/// An incident's announcement thread, as the metrics show it.
#[derive(Debug, Clone)]
pub struct OpenedIncidentThread {
    pub incident_id: String,
    pub opened_at: DateTime<Utc>,
}

/// The incident threads opened at or after `opened_since`, oldest first.
pub async fn incident_threads_opened_since(
    conn: &mut PgConnection,
    opened_since: DateTime<Utc>,
) -> sqlx::Result<Vec<OpenedIncidentThread>> {
    sqlx::query_as!(
        OpenedIncidentThread,
        r#"SELECT incident_id AS "incident_id!", created_at AS opened_at
         FROM threads
         WHERE incident_id IS NOT NULL AND created_at >= $1
         ORDER BY created_at, incident_id"#,
        opened_since,
    )
    .fetch_all(conn)
    .await
}

/// The digest of the BreachReported that opened an incident's thread.
pub async fn incident_digest(
    conn: &mut PgConnection,
    incident_id: &str,
) -> sqlx::Result<Option<Option<Vec<u8>>>> {
    sqlx::query_scalar!(
        "SELECT incident_digest FROM threads WHERE incident_id = $1",
        incident_id,
    )
    .fetch_optional(conn)
    .await
}

/// Locks the thread row for the rest of the transaction (posting in it
/// serialises here); returns whether it is locked for posting.
pub async fn lock_for_posting(
    conn: &mut PgConnection,
    thread_id: Uuid,
) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar!(
        "SELECT locked FROM threads WHERE thread_id = $1 FOR UPDATE",
        thread_id,
    )
    .fetch_optional(conn)
    .await
}

/// A staff-controlled flag of a thread.
#[derive(Debug, Clone, Copy)]
pub enum ThreadFlag {
    Pinned,
    Locked,
}

/// Sets `flag` on the thread; `false` when the thread does not exist.
pub async fn set_flag(
    conn: &mut PgConnection,
    thread_id: Uuid,
    flag: ThreadFlag,
    value: bool,
) -> sqlx::Result<bool> {
    let result = match flag {
        ThreadFlag::Pinned => {
            sqlx::query!(
                "UPDATE threads SET pinned = $2 WHERE thread_id = $1",
                thread_id,
                value,
            )
            .execute(conn)
            .await?
        }
        ThreadFlag::Locked => {
            sqlx::query!(
                "UPDATE threads SET locked = $2 WHERE thread_id = $1",
                thread_id,
                value,
            )
            .execute(conn)
            .await?
        }
    };
    Ok(result.rows_affected() == 1)
}

/// Where a listing page ends: the listing's snapshot time and the sort key
/// of the last thread returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCursor {
    pub as_of: DateTime<Utc>,
    pub pinned: bool,
    pub activity: DateTime<Utc>,
    pub thread_id: Uuid,
}

/// A listed thread with the sort key it was listed under.
#[derive(Debug, Clone)]
pub struct ListedThread {
    pub thread: ThreadRow,
    pub as_of: DateTime<Utc>,
    pub activity_as_of: DateTime<Utc>,
}

/// A row of [`list`]: the query macros fill flat structs only.
struct ListedThreadRow {
    thread_id: Uuid,
    board_id: String,
    title: String,
    first_post_id: Uuid,
    post_count: i32,
    pinned: bool,
    locked: bool,
    incident_id: Option<String>,
    created_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
    author_id: Uuid,
    author_name: Option<String>,
    author_is_staff: bool,
    author_is_system: bool,
    author_deactivated: bool,
    as_of: DateTime<Utc>,
    activity_as_of: DateTime<Utc>,
}

impl From<ListedThreadRow> for ListedThread {
    fn from(row: ListedThreadRow) -> Self {
        Self {
            thread: ThreadRow {
                thread_id: row.thread_id,
                board_id: row.board_id,
                title: row.title,
                first_post_id: row.first_post_id,
                post_count: row.post_count,
                pinned: row.pinned,
                locked: row.locked,
                incident_id: row.incident_id,
                created_at: row.created_at,
                last_activity_at: row.last_activity_at,
                author_id: row.author_id,
                author_name: row.author_name,
                author_is_staff: row.author_is_staff,
                author_is_system: row.author_is_system,
                author_deactivated: row.author_deactivated,
            },
            as_of: row.as_of,
            activity_as_of: row.activity_as_of,
        }
    }
}

/// One page of a board, sorted by the threads' state at the listing's
/// snapshot time (`as_of`, the first page's time): pinned first, then last
/// activity up to `as_of`, newest first, then thread id. A thread bumped by
/// a post while a client pages keeps its snapshot position, so it is
/// neither repeated nor skipped; threads started after `as_of` wait for a
/// fresh listing.
pub async fn list(
    conn: &mut PgConnection,
    board_id: &str,
    after: Option<&ThreadCursor>,
    limit: i64,
) -> sqlx::Result<Vec<ListedThread>> {
    // `as_of` and `activity_as_of` are expressions the macro cannot see
    // through; both are set for every listed thread (its first post was
    // created with it, no later than `as_of`).
    let rows = sqlx::query_as!(
        ListedThreadRow,
        r#"WITH snapshot AS (SELECT COALESCE($2::timestamptz, statement_timestamp()) AS as_of),
         listing AS (
             SELECT t.*, s.as_of,
                    CASE WHEN t.last_activity_at <= s.as_of THEN t.last_activity_at
                         ELSE (SELECT max(p.created_at) FROM posts p
                               WHERE p.thread_id = t.thread_id AND p.created_at <= s.as_of)
                    END AS activity_as_of
             FROM threads t CROSS JOIN snapshot s
             WHERE t.board_id = $1 AND t.created_at <= s.as_of
         )
         SELECT t.thread_id, t.board_id, t.title, t.first_post_id, t.post_count, t.pinned,
                t.locked, t.incident_id, t.created_at, t.last_activity_at,
                a.account_id AS author_id, a.display_name AS author_name,
                a.is_staff AS author_is_staff, a.is_system AS author_is_system,
                (a.deactivated_at IS NOT NULL) AS "author_deactivated!",
                t.as_of AS "as_of!", t.activity_as_of AS "activity_as_of!"
         FROM listing t JOIN authors a ON a.account_id = t.author_id
         WHERE $3::boolean IS NULL OR (t.pinned, t.activity_as_of, t.thread_id) < ($3, $4, $5)
         ORDER BY t.pinned DESC, t.activity_as_of DESC, t.thread_id DESC
         LIMIT $6"#,
        board_id,
        after.map(|cursor| cursor.as_of),
        after.map(|cursor| cursor.pinned),
        after.map(|cursor| cursor.activity),
        after.map(|cursor| cursor.thread_id),
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(ListedThread::from).collect())
}
