//! Members' in-app notices: ListNotices, AcknowledgeNotice.

// The reasons, the session errors and the platform's error vocabulary
// (imported by the parent module).
use super::*;

/// ListNotices.
#[derive(Debug, thiserror::Error)]
pub enum ListNoticesError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ListNoticesError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListNoticesError::NoSession(no_session) => no_session.kind(),
            ListNoticesError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListNoticesError::NoSession(no_session) => no_session.reason(),
            ListNoticesError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

/// AcknowledgeNotice.
#[derive(Debug, thiserror::Error)]
pub enum AcknowledgeNoticeError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("no notice for incident {0}")]
    NoticeNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for AcknowledgeNoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            AcknowledgeNoticeError::NoSession(no_session) => no_session.kind(),
            AcknowledgeNoticeError::Invalid(_) => ErrorKind::InvalidArgument,
            AcknowledgeNoticeError::NoticeNotFound(_) => ErrorKind::NotFound,
            AcknowledgeNoticeError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            AcknowledgeNoticeError::NoSession(no_session) => no_session.reason(),
            AcknowledgeNoticeError::Invalid(_) => Reason::INVALID_FIELD,
            AcknowledgeNoticeError::NoticeNotFound(_) => NOTICE_NOT_FOUND,
            AcknowledgeNoticeError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            AcknowledgeNoticeError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}
