//! Sessions and the account itself: ValidateSession, GetAccount, SetRoles, Logout, RevokeAllSessions, RequestDeactivation, ConfirmDeactivation.

// The reasons, the session errors and the platform's error vocabulary
// (imported by the parent module).
use super::*;

/// ValidateSession.
#[derive(Debug, thiserror::Error)]
pub enum ValidateSessionError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("session is unknown, expired or revoked")]
    UnknownSession,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ValidateSessionError {
    fn kind(&self) -> ErrorKind {
        match self {
            ValidateSessionError::Invalid(_) => ErrorKind::InvalidArgument,
            ValidateSessionError::UnknownSession => ErrorKind::NotFound,
            ValidateSessionError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ValidateSessionError::Invalid(_) => Reason::INVALID_FIELD,
            ValidateSessionError::UnknownSession => Reason::SESSION_INVALID,
            ValidateSessionError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ValidateSessionError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// GetAccount.
#[derive(Debug, thiserror::Error)]
pub enum GetAccountError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("a member may only read their own account")]
    OtherAccount,
    #[error("no such account")]
    AccountNotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for GetAccountError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetAccountError::NoSession(no_session) => no_session.kind(),
            GetAccountError::Invalid(_) => ErrorKind::InvalidArgument,
            GetAccountError::OtherAccount => ErrorKind::PermissionDenied,
            GetAccountError::AccountNotFound => ErrorKind::NotFound,
            GetAccountError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            GetAccountError::NoSession(no_session) => no_session.reason(),
            GetAccountError::Invalid(_) => Reason::INVALID_FIELD,
            GetAccountError::OtherAccount => NOT_OWN_ACCOUNT,
            GetAccountError::AccountNotFound => ACCOUNT_NOT_FOUND,
            GetAccountError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetAccountError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// SetRoles.
#[derive(Debug, thiserror::Error)]
pub enum SetRolesError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("no such account")]
    AccountNotFound,
    #[error("the account is deactivated")]
    Deactivated,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for SetRolesError {
    fn kind(&self) -> ErrorKind {
        match self {
            SetRolesError::Invalid(_) => ErrorKind::InvalidArgument,
            SetRolesError::AccountNotFound => ErrorKind::NotFound,
            SetRolesError::Deactivated => ErrorKind::FailedPrecondition,
            SetRolesError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            SetRolesError::Invalid(_) => Reason::INVALID_FIELD,
            SetRolesError::AccountNotFound => ACCOUNT_NOT_FOUND,
            SetRolesError::Deactivated => ACCOUNT_DEACTIVATED,
            SetRolesError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            SetRolesError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// Logout.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for LogoutError {
    fn kind(&self) -> ErrorKind {
        match self {
            LogoutError::NoSession(no_session) => no_session.kind(),
            LogoutError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            LogoutError::NoSession(no_session) => no_session.reason(),
            LogoutError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

/// RevokeAllSessions.
#[derive(Debug, thiserror::Error)]
pub enum RevokeAllSessionsError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for RevokeAllSessionsError {
    fn kind(&self) -> ErrorKind {
        match self {
            RevokeAllSessionsError::NoSession(no_session) => no_session.kind(),
            RevokeAllSessionsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            RevokeAllSessionsError::NoSession(no_session) => no_session.reason(),
            RevokeAllSessionsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

/// RequestDeactivation.
#[derive(Debug, thiserror::Error)]
pub enum RequestDeactivationError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error("the account has no email address to confirm with; ask staff")]
    NoEmail,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for RequestDeactivationError {
    fn kind(&self) -> ErrorKind {
        match self {
            RequestDeactivationError::NoSession(no_session) => no_session.kind(),
            RequestDeactivationError::Throttled(throttled) => throttled.kind(),
            RequestDeactivationError::NoEmail => ErrorKind::FailedPrecondition,
            RequestDeactivationError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            RequestDeactivationError::NoSession(no_session) => no_session.reason(),
            RequestDeactivationError::Throttled(throttled) => throttled.reason(),
            RequestDeactivationError::NoEmail => ACCOUNT_HAS_NO_EMAIL,
            RequestDeactivationError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

/// ConfirmDeactivation.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmDeactivationError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("deactivation token is unknown or expired")]
    InvalidToken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ConfirmDeactivationError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConfirmDeactivationError::Invalid(_) => ErrorKind::InvalidArgument,
            ConfirmDeactivationError::InvalidToken => ErrorKind::Unauthenticated,
            ConfirmDeactivationError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ConfirmDeactivationError::Invalid(_) => Reason::INVALID_FIELD,
            ConfirmDeactivationError::InvalidToken => DEACTIVATION_TOKEN_INVALID,
            ConfirmDeactivationError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ConfirmDeactivationError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}
