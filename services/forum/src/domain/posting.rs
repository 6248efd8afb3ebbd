//! What a post may be and when one is refused: input limits, the member
//! rate limit and the refusals of the posting transaction
//! (`store::posting`), in the forum's own terms.

use std::borrow::Cow;
use std::time::Duration;

use candor_platform::validation::{InvalidField, TextRule};
use uuid::Uuid;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 20_000;

/// A post body: Markdown, at most 20000 characters as sent, at least one
/// once trimmed; LF and TAB allowed, no other control character.
const BODY: TextRule = TextRule::multi_line(1, MAX_BODY_CHARS);
/// A thread title: a single line of at most 200 characters as sent.
const TITLE: TextRule = TextRule::single_line(1, MAX_TITLE_CHARS);

/// Checks a Markdown body and returns what to store: trimmed, CRLF as LF.
/// The bound is on the raw value, so what is stored was checked.
pub fn check_body<'a>(field: &'static str, body: &'a str) -> Result<Cow<'a, str>, InvalidField> {
    BODY.check(body)
        .map_err(|reason| InvalidField::new(field, reason))
}

/// Checks a title and returns it trimmed.
pub fn check_title(title: &str) -> Result<Cow<'_, str>, InvalidField> {
    TITLE
        .check(title)
        .map_err(|reason| InvalidField::new("title", reason))
}

/// How often members may post; staff and the system account are exempt.
#[derive(Debug, Clone, Copy)]
pub struct PostingPolicy {
    pub member_interval: Duration,
}

/// Why a thread or reply was not written.
#[derive(Debug, thiserror::Error)]
pub enum PostingRefused {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("board {0:?} does not exist")]
    BoardNotFound(String),
    #[error("only staff start threads on board {0:?}")]
    StaffOnlyBoard(String),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error("post {0} does not exist in this thread")]
    PostNotFound(Uuid),
    #[error("thread {0} is locked")]
    ThreadLocked(Uuid),
    #[error("you posted the same text in the last 10 minutes (post {0})")]
    Duplicate(Uuid),
    #[error("posting too often: retry in {0} seconds")]
    RateLimited(u64),
    #[error("the account is deactivated")]
    Deactivated,
}

/// The posting transaction's failure: a refusal, or an internal error.
#[derive(Debug, thiserror::Error)]
pub enum PostingError {
    #[error(transparent)]
    Refused(#[from] PostingRefused),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<InvalidField> for PostingError {
    fn from(invalid: InvalidField) -> Self {
        Self::Refused(PostingRefused::Invalid(invalid))
    }
}
