//! What can go wrong in each forum RPC, named in the RPC's own terms, which
//! of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place),
//! and the stable reason a caller matches on (the tables in
//! `proto/candor/forum/v1/forum.proto`).

use candor_platform::auth::SessionError;
use candor_platform::grpc::{ErrorKind, InvalidField, Reason, RpcError};
use uuid::Uuid;

use crate::domain::posting::{PostingError, PostingRefused};

/// The board named does not exist.
pub const BOARD_NOT_FOUND: Reason = Reason::new("BOARD_NOT_FOUND");
/// The thread named does not exist.
pub const THREAD_NOT_FOUND: Reason = Reason::new("THREAD_NOT_FOUND");
/// The post named does not exist (in the thread, where one is given).
pub const POST_NOT_FOUND: Reason = Reason::new("POST_NOT_FOUND");
/// The canned reply named does not exist.
pub const CANNED_REPLY_NOT_FOUND: Reason = Reason::new("CANNED_REPLY_NOT_FOUND");
/// Only staff start threads on this board.
pub const STAFF_ONLY_BOARD: Reason = Reason::new("STAFF_ONLY_BOARD");
/// The RPC needs a staff session (or the operator).
pub const STAFF_REQUIRED: Reason = Reason::new("STAFF_REQUIRED");
/// Only the post's author or staff may change it.
pub const NOT_AUTHOR_OR_STAFF: Reason = Reason::new("NOT_AUTHOR_OR_STAFF");
/// Only staff may delete the first post of a thread.
pub const FIRST_POST_NEEDS_STAFF: Reason = Reason::new("FIRST_POST_NEEDS_STAFF");
/// The thread is locked: no new posts, and no edits but staff's.
pub const THREAD_LOCKED: Reason = Reason::new("THREAD_LOCKED");
/// The post is deleted and cannot be edited.
pub const POST_DELETED: Reason = Reason::new("POST_DELETED");
/// The author posted the same body in the last 10 minutes.
pub const DUPLICATE_POST: Reason = Reason::new("DUPLICATE_POST");
/// The account of a session validated just before its deactivation.
pub const ACCOUNT_DEACTIVATED: Reason = Reason::new("ACCOUNT_DEACTIVATED");

/// ListBoards.
#[derive(Debug, thiserror::Error)]
pub enum ListBoardsError {
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// CreateThread.
#[derive(Debug, thiserror::Error)]
pub enum CreateThreadError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Refused(#[from] PostingRefused),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// GetThread.
#[derive(Debug, thiserror::Error)]
pub enum GetThreadError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// ListThreads.
#[derive(Debug, thiserror::Error)]
pub enum ListThreadsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("board {0:?} does not exist")]
    BoardNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// CreatePost.
#[derive(Debug, thiserror::Error)]
pub enum CreatePostError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Refused(#[from] PostingRefused),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// ListPosts.
#[derive(Debug, thiserror::Error)]
pub enum ListPostsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// EditPost.
#[derive(Debug, thiserror::Error)]
pub enum EditPostError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("post {0} does not exist")]
    PostNotFound(Uuid),
    #[error("only the post's author or staff may change it")]
    NotAuthorOrStaff,
    #[error("post {0} is deleted")]
    PostDeleted(Uuid),
    #[error("thread {0} is locked")]
    ThreadLocked(Uuid),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// DeletePost.
#[derive(Debug, thiserror::Error)]
pub enum DeletePostError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("post {0} does not exist")]
    PostNotFound(Uuid),
    #[error("only the post's author or staff may change it")]
    NotAuthorOrStaff,
    #[error("only staff may delete the first post of a thread")]
    FirstPostNeedsStaff,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// PinThread and LockThread: one operation on two flags of a thread.
#[derive(Debug, thiserror::Error)]
pub enum SetThreadFlagError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("this RPC needs a staff session")]
    NotStaff,
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("thread {0} does not exist")]
    ThreadNotFound(Uuid),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// GetIncidentThread.
#[derive(Debug, thiserror::Error)]
pub enum GetIncidentThreadError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("no thread is open for incident {0:?}")]
    IncidentThreadNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// ListCannedReplies.
#[derive(Debug, thiserror::Error)]
pub enum ListCannedRepliesError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("this RPC needs a staff session")]
    NotStaff,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// PostCannedReply.
#[derive(Debug, thiserror::Error)]
pub enum PostCannedReplyError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("this RPC needs a staff session")]
    NotStaff,
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("canned reply {0:?} does not exist")]
    CannedReplyNotFound(String),
    #[error("post {0} does not exist in this thread")]
    AnsweredPostNotFound(Uuid),
    #[error(transparent)]
    Refused(#[from] PostingRefused),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The posting transaction's failure becomes each posting RPC's error.
macro_rules! from_posting_error {
    ($($error:ident),+) => {$(
        impl From<PostingError> for $error {
            fn from(error: PostingError) -> Self {
                match error {
                    PostingError::Refused(refused) => Self::Refused(refused),
                    PostingError::Internal(cause) => Self::Internal(cause),
                }
            }
        }
    )+};
}

from_posting_error!(CreateThreadError, CreatePostError, PostCannedReplyError);

impl RpcError for PostingRefused {
    fn kind(&self) -> ErrorKind {
        match self {
            PostingRefused::Invalid(_) => ErrorKind::InvalidArgument,
            PostingRefused::BoardNotFound(_)
            | PostingRefused::ThreadNotFound(_)
            | PostingRefused::PostNotFound(_) => ErrorKind::NotFound,
            PostingRefused::StaffOnlyBoard(_) => ErrorKind::PermissionDenied,
            PostingRefused::ThreadLocked(_) => ErrorKind::FailedPrecondition,
            PostingRefused::Duplicate(_) => ErrorKind::AlreadyExists,
            PostingRefused::RateLimited(seconds) => ErrorKind::ResourceExhausted {
                retry_after_seconds: *seconds,
            },
            PostingRefused::Deactivated => ErrorKind::Unauthenticated,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            PostingRefused::Invalid(_) => Reason::INVALID_FIELD,
            PostingRefused::BoardNotFound(_) => BOARD_NOT_FOUND,
            PostingRefused::ThreadNotFound(_) => THREAD_NOT_FOUND,
            PostingRefused::PostNotFound(_) => POST_NOT_FOUND,
            PostingRefused::StaffOnlyBoard(_) => STAFF_ONLY_BOARD,
            PostingRefused::ThreadLocked(_) => THREAD_LOCKED,
            PostingRefused::Duplicate(_) => DUPLICATE_POST,
            PostingRefused::RateLimited(_) => Reason::THROTTLED,
            PostingRefused::Deactivated => ACCOUNT_DEACTIVATED,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            PostingRefused::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for ListBoardsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListBoardsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListBoardsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

impl RpcError for CreateThreadError {
    fn kind(&self) -> ErrorKind {
        match self {
            CreateThreadError::Session(error) => error.kind(),
            CreateThreadError::Invalid(_) => ErrorKind::InvalidArgument,
            CreateThreadError::Refused(refused) => refused.kind(),
            CreateThreadError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            CreateThreadError::Session(error) => error.reason(),
            CreateThreadError::Invalid(_) => Reason::INVALID_FIELD,
            CreateThreadError::Refused(refused) => refused.reason(),
            CreateThreadError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            CreateThreadError::Invalid(field) => Some(field),
            CreateThreadError::Refused(refused) => refused.invalid_field(),
            _ => None,
        }
    }
}

impl RpcError for GetThreadError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetThreadError::Invalid(_) => ErrorKind::InvalidArgument,
            GetThreadError::ThreadNotFound(_) => ErrorKind::NotFound,
            GetThreadError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            GetThreadError::Invalid(_) => Reason::INVALID_FIELD,
            GetThreadError::ThreadNotFound(_) => THREAD_NOT_FOUND,
            GetThreadError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetThreadError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for ListThreadsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListThreadsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListThreadsError::BoardNotFound(_) => ErrorKind::NotFound,
            ListThreadsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListThreadsError::Invalid(_) => Reason::INVALID_FIELD,
            ListThreadsError::BoardNotFound(_) => BOARD_NOT_FOUND,
            ListThreadsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListThreadsError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for CreatePostError {
    fn kind(&self) -> ErrorKind {
        match self {
            CreatePostError::Session(error) => error.kind(),
            CreatePostError::Invalid(_) => ErrorKind::InvalidArgument,
            CreatePostError::Refused(refused) => refused.kind(),
            CreatePostError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            CreatePostError::Session(error) => error.reason(),
            CreatePostError::Invalid(_) => Reason::INVALID_FIELD,
            CreatePostError::Refused(refused) => refused.reason(),
            CreatePostError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            CreatePostError::Invalid(field) => Some(field),
            CreatePostError::Refused(refused) => refused.invalid_field(),
            _ => None,
        }
    }
}

impl RpcError for ListPostsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListPostsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListPostsError::ThreadNotFound(_) => ErrorKind::NotFound,
            ListPostsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListPostsError::Invalid(_) => Reason::INVALID_FIELD,
            ListPostsError::ThreadNotFound(_) => THREAD_NOT_FOUND,
            ListPostsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListPostsError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for EditPostError {
    fn kind(&self) -> ErrorKind {
        match self {
            EditPostError::Session(error) => error.kind(),
            EditPostError::Invalid(_) => ErrorKind::InvalidArgument,
            EditPostError::PostNotFound(_) => ErrorKind::NotFound,
            EditPostError::NotAuthorOrStaff => ErrorKind::PermissionDenied,
            EditPostError::PostDeleted(_) | EditPostError::ThreadLocked(_) => {
                ErrorKind::FailedPrecondition
            }
            EditPostError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            EditPostError::Session(error) => error.reason(),
            EditPostError::Invalid(_) => Reason::INVALID_FIELD,
            EditPostError::PostNotFound(_) => POST_NOT_FOUND,
            EditPostError::NotAuthorOrStaff => NOT_AUTHOR_OR_STAFF,
            EditPostError::PostDeleted(_) => POST_DELETED,
            EditPostError::ThreadLocked(_) => THREAD_LOCKED,
            EditPostError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            EditPostError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for DeletePostError {
    fn kind(&self) -> ErrorKind {
        match self {
            DeletePostError::Session(error) => error.kind(),
            DeletePostError::Invalid(_) => ErrorKind::InvalidArgument,
            DeletePostError::PostNotFound(_) => ErrorKind::NotFound,
            DeletePostError::NotAuthorOrStaff | DeletePostError::FirstPostNeedsStaff => {
                ErrorKind::PermissionDenied
            }
            DeletePostError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            DeletePostError::Session(error) => error.reason(),
            DeletePostError::Invalid(_) => Reason::INVALID_FIELD,
            DeletePostError::PostNotFound(_) => POST_NOT_FOUND,
            DeletePostError::NotAuthorOrStaff => NOT_AUTHOR_OR_STAFF,
            DeletePostError::FirstPostNeedsStaff => FIRST_POST_NEEDS_STAFF,
            DeletePostError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            DeletePostError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for SetThreadFlagError {
    fn kind(&self) -> ErrorKind {
        match self {
            SetThreadFlagError::Session(error) => error.kind(),
            SetThreadFlagError::NotStaff => ErrorKind::PermissionDenied,
            SetThreadFlagError::Invalid(_) => ErrorKind::InvalidArgument,
            SetThreadFlagError::ThreadNotFound(_) => ErrorKind::NotFound,
            SetThreadFlagError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            SetThreadFlagError::Session(error) => error.reason(),
            SetThreadFlagError::NotStaff => STAFF_REQUIRED,
            SetThreadFlagError::Invalid(_) => Reason::INVALID_FIELD,
            SetThreadFlagError::ThreadNotFound(_) => THREAD_NOT_FOUND,
            SetThreadFlagError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            SetThreadFlagError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for GetIncidentThreadError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetIncidentThreadError::Invalid(_) => ErrorKind::InvalidArgument,
            GetIncidentThreadError::IncidentThreadNotFound(_) => ErrorKind::NotFound,
            GetIncidentThreadError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// No thread for an incident is the forum's "not recorded": the thread
    /// is how the forum records an incident.
    fn reason(&self) -> Reason {
        match self {
            GetIncidentThreadError::Invalid(_) => Reason::INVALID_FIELD,
            GetIncidentThreadError::IncidentThreadNotFound(_) => Reason::INCIDENT_NOT_FOUND,
            GetIncidentThreadError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetIncidentThreadError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for ListCannedRepliesError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListCannedRepliesError::Session(error) => error.kind(),
            ListCannedRepliesError::NotStaff => ErrorKind::PermissionDenied,
            ListCannedRepliesError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListCannedRepliesError::Session(error) => error.reason(),
            ListCannedRepliesError::NotStaff => STAFF_REQUIRED,
            ListCannedRepliesError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

impl RpcError for PostCannedReplyError {
    fn kind(&self) -> ErrorKind {
        match self {
            PostCannedReplyError::Session(error) => error.kind(),
            PostCannedReplyError::NotStaff => ErrorKind::PermissionDenied,
            PostCannedReplyError::Invalid(_) => ErrorKind::InvalidArgument,
            PostCannedReplyError::CannedReplyNotFound(_)
            | PostCannedReplyError::AnsweredPostNotFound(_) => ErrorKind::NotFound,
            PostCannedReplyError::Refused(refused) => refused.kind(),
            PostCannedReplyError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            PostCannedReplyError::Session(error) => error.reason(),
            PostCannedReplyError::NotStaff => STAFF_REQUIRED,
            PostCannedReplyError::Invalid(_) => Reason::INVALID_FIELD,
            PostCannedReplyError::CannedReplyNotFound(_) => CANNED_REPLY_NOT_FOUND,
            PostCannedReplyError::AnsweredPostNotFound(_) => POST_NOT_FOUND,
            PostCannedReplyError::Refused(refused) => refused.reason(),
            PostCannedReplyError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            PostCannedReplyError::Invalid(field) => Some(field),
            PostCannedReplyError::Refused(refused) => refused.invalid_field(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
