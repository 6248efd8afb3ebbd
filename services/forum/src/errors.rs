//! What can go wrong in each forum RPC, named in the RPC's own terms, and
//! which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).

use candor_platform::auth::SessionError;
use candor_platform::grpc::{ErrorKind, InvalidField, RpcError};
use uuid::Uuid;

use crate::domain::posting::{PostingError, PostingRefused};

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

impl PostingRefused {
    /// The kind of each refusal of the posting transaction.
    pub fn kind(&self) -> ErrorKind {
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

impl RpcError for ListBoardsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListBoardsError::Internal(_) => ErrorKind::Internal,
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
}

impl RpcError for GetThreadError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetThreadError::Invalid(_) => ErrorKind::InvalidArgument,
            GetThreadError::ThreadNotFound(_) => ErrorKind::NotFound,
            GetThreadError::Internal(_) => ErrorKind::Internal,
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
}

impl RpcError for ListPostsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListPostsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListPostsError::ThreadNotFound(_) => ErrorKind::NotFound,
            ListPostsError::Internal(_) => ErrorKind::Internal,
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
}

impl RpcError for GetIncidentThreadError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetIncidentThreadError::Invalid(_) => ErrorKind::InvalidArgument,
            GetIncidentThreadError::IncidentThreadNotFound(_) => ErrorKind::NotFound,
            GetIncidentThreadError::Internal(_) => ErrorKind::Internal,
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
}
