//! candor-forum's tables. Every function takes `&mut PgConnection` so the
//! caller decides the transaction, except [`posting`]: writing a post spans
//! threads, posts and authors and runs its own transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// How a stored author is shown, from the `authors` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorView {
    pub account_id: Uuid,
    pub display_name: Option<String>,
    pub is_staff: bool,
    pub is_system: bool,
    pub deactivated: bool,
}

/// A thread with its author.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThreadRow {
    pub thread_id: Uuid,
    pub board_id: String,
    pub title: String,
    pub first_post_id: Uuid,
    pub post_count: i32,
    pub pinned: bool,
    pub locked: bool,
    pub incident_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub author_id: Uuid,
    pub author_name: Option<String>,
    pub author_is_staff: bool,
    pub author_is_system: bool,
    pub author_deactivated: bool,
}

impl ThreadRow {
    pub fn author(&self) -> AuthorView {
        AuthorView {
            account_id: self.author_id,
            display_name: self.author_name.clone(),
            is_staff: self.author_is_staff,
            is_system: self.author_is_system,
            deactivated: self.author_deactivated,
        }
    }
}

/// A post with its author.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostRow {
    pub post_id: Uuid,
    pub thread_id: Uuid,
    pub seq: i32,
    pub body: String,
    pub in_reply_to_post_id: Option<Uuid>,
    pub canned_reply_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub author_id: Uuid,
    pub author_name: Option<String>,
    pub author_is_staff: bool,
    pub author_is_system: bool,
    pub author_deactivated: bool,
}

impl PostRow {
    pub fn author(&self) -> AuthorView {
        AuthorView {
            account_id: self.author_id,
            display_name: self.author_name.clone(),
            is_staff: self.author_is_staff,
            is_system: self.author_is_system,
            deactivated: self.author_deactivated,
        }
    }
}

/// The columns of a thread with its author (`t` is `threads`, `a` is
/// `authors`), as a literal for `concat!`, so every query stays a static string.
macro_rules! select_threads {
    ($condition:literal) => {
        concat!(
            "SELECT t.thread_id, t.board_id, t.title, t.first_post_id, t.post_count, t.pinned, \
             t.locked, t.incident_id, t.created_at, t.last_activity_at, \
             a.account_id AS author_id, a.display_name AS author_name, \
             a.is_staff AS author_is_staff, a.is_system AS author_is_system, \
             (a.deactivated_at IS NOT NULL) AS author_deactivated \
             FROM threads t JOIN authors a ON a.account_id = t.author_id WHERE ",
            $condition
        )
    };
}

/// The columns of a post with its author (`p` is `posts`, `a` is `authors`).
macro_rules! select_posts {
    ($condition:literal) => {
        concat!(
            "SELECT p.post_id, p.thread_id, p.seq, p.body, p.in_reply_to_post_id, \
             p.canned_reply_id, p.created_at, p.edited_at, p.deleted_at, \
             a.account_id AS author_id, a.display_name AS author_name, \
             a.is_staff AS author_is_staff, a.is_system AS author_is_system, \
             (a.deactivated_at IS NOT NULL) AS author_deactivated \
             FROM posts p JOIN authors a ON a.account_id = p.author_id WHERE ",
            $condition
        )
    };
}

pub mod authors;
pub mod boards;
pub mod canned;
pub mod posting;
pub mod posts;
pub mod threads;
