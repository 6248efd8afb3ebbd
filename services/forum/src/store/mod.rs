//! candor-forum's tables. Every function takes `&mut PgConnection` so the
//! caller decides the transaction, except [`posting`]: writing a post spans
//! threads, posts and authors and runs its own transaction.
//!
//! Every query is checked at compile time (`sqlx::query!` and friends)
//! against the forum's schema, or against `.sqlx/` offline. A thread or post
//! is read with its author in several places; each of those queries spells
//! the columns of [`ThreadRow`] / [`PostRow`] out, so the macro can check
//! them (`author_deactivated` is an expression, hence its `!`).

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
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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

pub mod authors;
pub mod boards;
pub mod canned;
pub mod posting;
pub mod posts;
pub mod threads;
