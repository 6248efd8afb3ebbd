//! What can go wrong in each kind of forum operation, and the one table that
//! turns it into a gRPC status. Internal causes are logged, never sent.

use candor_platform::validation::TextRule;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::sessions::AuthError;

/// Reading: ListBoards, GetThread, ListThreads, ListPosts, GetIncidentThread,
/// ListCannedReplies.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("board {0:?} does not exist")]
    BoardNotFound(String),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error("no thread is open for incident {0:?}")]
    IncidentThreadNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Writing a post: CreateThread, CreatePost, PostCannedReply.
#[derive(Debug, thiserror::Error)]
pub enum PostingError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("board {0:?} does not exist")]
    BoardNotFound(String),
    #[error("only staff start threads on board {0:?}")]
    StaffOnlyBoard(String),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error("post {0} does not exist in this thread")]
    PostNotFound(Uuid),
    #[error("canned reply {0:?} does not exist")]
    CannedReplyNotFound(String),
    #[error("thread {0} is locked")]
    ThreadLocked(Uuid),
    #[error("you posted the same text in the last 10 minutes (post {0})")]
    Duplicate(Uuid),
    #[error("posting too often: retry in {0} seconds")]
    RateLimited(u64),
    #[error("the account is deactivated")]
    Deactivated,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Moderating: EditPost, DeletePost, PinThread, LockThread.
#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("post {0} does not exist")]
    PostNotFound(Uuid),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error("only the post's author or staff may change it")]
    NotAuthorOrStaff,
    #[error("only staff may delete the first post of a thread")]
    FirstPostNeedsStaff,
    #[error("post {0} is deleted")]
    PostDeleted(Uuid),
    #[error("thread {0} is locked")]
    ThreadLocked(Uuid),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn auth_status(error: AuthError) -> Status {
    match error {
        AuthError::Unauthenticated(message) => Status::unauthenticated(message),
        AuthError::NotStaff => Status::permission_denied(AuthError::NotStaff.to_string()),
        AuthError::Unavailable(_) => {
            Status::unavailable("the account service is unavailable; retry with backoff")
        }
        AuthError::Internal(error) => candor_platform::grpc::internal_error(error),
    }
}

impl From<ReadError> for Status {
    fn from(error: ReadError) -> Self {
        let code = match &error {
            ReadError::Auth(_) => Code::Unknown,
            ReadError::InvalidArgument { .. } => Code::InvalidArgument,
            ReadError::BoardNotFound(_)
            | ReadError::ThreadNotFound(_)
            | ReadError::IncidentThreadNotFound(_) => Code::NotFound,
            ReadError::Internal(_) => Code::Internal,
        };
        match error {
            ReadError::Auth(error) => auth_status(error),
            ReadError::Internal(error) => candor_platform::grpc::internal_error(error),
            other => Status::new(code, other.to_string()),
        }
    }
}

impl From<PostingError> for Status {
    fn from(error: PostingError) -> Self {
        let code = match &error {
            PostingError::Auth(_) | PostingError::Internal(_) => Code::Internal,
            PostingError::InvalidArgument { .. } => Code::InvalidArgument,
            PostingError::BoardNotFound(_)
            | PostingError::ThreadNotFound(_)
            | PostingError::PostNotFound(_)
            | PostingError::CannedReplyNotFound(_) => Code::NotFound,
            PostingError::StaffOnlyBoard(_) => Code::PermissionDenied,
            PostingError::ThreadLocked(_) => Code::FailedPrecondition,
            PostingError::Duplicate(_) => Code::AlreadyExists,
            PostingError::RateLimited(_) => Code::ResourceExhausted,
            PostingError::Deactivated => Code::Unauthenticated,
        };
        match error {
            PostingError::Auth(error) => auth_status(error),
            PostingError::Internal(error) => candor_platform::grpc::internal_error(error),
            PostingError::RateLimited(seconds) => {
                let mut status = Status::new(code, PostingError::RateLimited(seconds).to_string());
                if let Ok(value) = seconds.to_string().parse() {
                    status.metadata_mut().insert("retry-after", value);
                }
                status
            }
            other => Status::new(code, other.to_string()),
        }
    }
}

impl From<ModerationError> for Status {
    fn from(error: ModerationError) -> Self {
        let code = match &error {
            ModerationError::Auth(_) | ModerationError::Internal(_) => Code::Internal,
            ModerationError::InvalidArgument { .. } => Code::InvalidArgument,
            ModerationError::PostNotFound(_) | ModerationError::ThreadNotFound(_) => Code::NotFound,
            ModerationError::NotAuthorOrStaff | ModerationError::FirstPostNeedsStaff => {
                Code::PermissionDenied
            }
            ModerationError::PostDeleted(_) | ModerationError::ThreadLocked(_) => {
                Code::FailedPrecondition
            }
        };
        match error {
            ModerationError::Auth(error) => auth_status(error),
            ModerationError::Internal(error) => candor_platform::grpc::internal_error(error),
            other => Status::new(code, other.to_string()),
        }
    }
}

/// A UUID request field, or INVALID_ARGUMENT naming it.
pub fn parse_uuid(field: &'static str, value: &str) -> Result<Uuid, (&'static str, String)> {
    Uuid::parse_str(value).map_err(|_| (field, "must be a UUID".to_owned()))
}

/// An optional UUID request field (empty means none).
pub fn parse_optional_uuid(
    field: &'static str,
    value: &str,
) -> Result<Option<Uuid>, (&'static str, String)> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse_uuid(field, value).map(Some)
    }
}

/// A board or incident id as a lookup key: one line of 1..=64 characters.
const LOOKUP_ID: TextRule = TextRule::single_line(1, 64);
/// A page token: empty (the first page) or one line of at most 512.
const PAGE_TOKEN: TextRule = TextRule::single_line(0, 512);

/// A board or incident id request field, checked as sent.
pub fn check_lookup_id(field: &'static str, value: &str) -> Result<(), (&'static str, String)> {
    LOOKUP_ID
        .check_verbatim(value)
        .map_err(|reason| (field, reason.to_string()))
}

/// A page token request field, checked as sent before it is decoded.
pub fn check_page_token(value: &str) -> Result<(), (&'static str, String)> {
    PAGE_TOKEN
        .check_verbatim(value)
        .map_err(|reason| ("page_token", reason.to_string()))
}

/// A rejected request field (from [`parse_uuid`] and friends) becomes each
/// operation's INVALID_ARGUMENT.
macro_rules! invalid_argument_from_field {
    ($($error:ident),+) => {$(
        impl From<(&'static str, String)> for $error {
            fn from((field, reason): (&'static str, String)) -> Self {
                Self::InvalidArgument { field, reason }
            }
        }
    )+};
}

invalid_argument_from_field!(ReadError, PostingError, ModerationError);
