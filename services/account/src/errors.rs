//! What can go wrong in each account RPC, named in the RPC's own terms, and
//! which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).
//! Every enum also has `Internal`: logged with its cause chain, never sent.

use candor_platform::grpc::{ErrorKind, InvalidField, Refused, RpcError, Throttled};

use crate::domain::password_change::ReplacePasswordError;

/// Why the caller has no member session.
#[derive(Debug, thiserror::Error)]
pub enum NoSession {
    /// No usable `authorization` metadata.
    #[error(transparent)]
    Credential(#[from] Refused),
    #[error("session is unknown, expired or revoked")]
    Ended,
}

impl NoSession {
    fn kind(&self) -> ErrorKind {
        match self {
            NoSession::Credential(refused) => refused.kind(),
            NoSession::Ended => ErrorKind::Unauthenticated,
        }
    }
}

/// Looking up the caller's member session.
#[derive(Debug, thiserror::Error)]
pub enum SessionLookupError {
    #[error(transparent)]
    NoSession(#[from] NoSession),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A member-session RPC's error from the session lookup.
macro_rules! from_session_lookup {
    ($($error:ident),+) => {$(
        impl From<SessionLookupError> for $error {
            fn from(error: SessionLookupError) -> Self {
                match error {
                    SessionLookupError::NoSession(no_session) => Self::NoSession(no_session),
                    SessionLookupError::Internal(cause) => Self::Internal(cause),
                }
            }
        }
    )+};
}

from_session_lookup!(
    GetAccountError,
    LogoutError,
    RevokeAllSessionsError,
    RequestDeactivationError,
    ListNoticesError,
    AcknowledgeNoticeError
);

/// Register.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error("email: already registered")]
    EmailTaken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for RegisterError {
    fn kind(&self) -> ErrorKind {
        match self {
            RegisterError::Invalid(_) => ErrorKind::InvalidArgument,
            RegisterError::Throttled(throttled) => throttled.kind(),
            RegisterError::EmailTaken => ErrorKind::AlreadyExists,
            RegisterError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// Login.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Throttled(#[from] Throttled),
    /// The one answer for every failed login, so it reveals nothing.
    #[error("email or password is wrong")]
    Failed,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for LoginError {
    fn kind(&self) -> ErrorKind {
        match self {
            LoginError::Invalid(_) => ErrorKind::InvalidArgument,
            LoginError::Throttled(throttled) => throttled.kind(),
            LoginError::Failed => ErrorKind::Unauthenticated,
            LoginError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// ChangePassword.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error(transparent)]
    Credential(#[from] Refused),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error("credential is unknown, expired or revoked")]
    UnknownCredential,
    #[error("current_password is wrong")]
    WrongCurrentPassword,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ChangePasswordError {
    fn kind(&self) -> ErrorKind {
        match self {
            ChangePasswordError::Credential(refused) => refused.kind(),
            ChangePasswordError::Invalid(_) => ErrorKind::InvalidArgument,
            ChangePasswordError::Throttled(throttled) => throttled.kind(),
            ChangePasswordError::UnknownCredential => ErrorKind::Unauthenticated,
            ChangePasswordError::WrongCurrentPassword => ErrorKind::Unauthenticated,
            ChangePasswordError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<ReplacePasswordError> for ChangePasswordError {
    fn from(error: ReplacePasswordError) -> Self {
        match error {
            ReplacePasswordError::TokenNotOpen => Self::UnknownCredential,
            ReplacePasswordError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// RequestPasswordReset.
#[derive(Debug, thiserror::Error)]
pub enum RequestPasswordResetError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for RequestPasswordResetError {
    fn kind(&self) -> ErrorKind {
        match self {
            RequestPasswordResetError::Invalid(_) => ErrorKind::InvalidArgument,
            RequestPasswordResetError::Throttled(throttled) => throttled.kind(),
            RequestPasswordResetError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// ResetPassword.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error("reset token is unknown, expired, superseded or already used")]
    InvalidToken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ResetPasswordError {
    fn kind(&self) -> ErrorKind {
        match self {
            ResetPasswordError::Invalid(_) => ErrorKind::InvalidArgument,
            ResetPasswordError::Throttled(throttled) => throttled.kind(),
            ResetPasswordError::InvalidToken => ErrorKind::Unauthenticated,
            ResetPasswordError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<ReplacePasswordError> for ResetPasswordError {
    fn from(error: ReplacePasswordError) -> Self {
        match error {
            ReplacePasswordError::TokenNotOpen => Self::InvalidToken,
            ReplacePasswordError::Internal(cause) => Self::Internal(cause),
        }
    }
}

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
}

/// ImportAccounts.
#[derive(Debug, thiserror::Error)]
pub enum ImportAccountsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("the import stream was interrupted")]
    StreamBroken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ImportAccountsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ImportAccountsError::Invalid(_) => ErrorKind::InvalidArgument,
            ImportAccountsError::StreamBroken => ErrorKind::Cancelled,
            ImportAccountsError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// CountAffectedAccounts.
pub type CountAffectedAccountsError = candor_platform::grpc::InputOrInternal;

/// GetIncident.
#[derive(Debug, thiserror::Error)]
pub enum GetIncidentError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident is not recorded")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for GetIncidentError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetIncidentError::Invalid(_) => ErrorKind::InvalidArgument,
            GetIncidentError::NotFound => ErrorKind::NotFound,
            GetIncidentError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// ListAffectedAccounts.
#[derive(Debug, thiserror::Error)]
pub enum ListAffectedAccountsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident is not recorded")]
    IncidentNotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ListAffectedAccountsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListAffectedAccountsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListAffectedAccountsError::IncidentNotFound => ErrorKind::NotFound,
            ListAffectedAccountsError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// GetIncidentProgress.
pub type GetIncidentProgressError = candor_platform::grpc::IncidentLookupError;

/// ListIncidents.
#[derive(Debug, thiserror::Error)]
pub enum ListIncidentsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ListIncidentsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListIncidentsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListIncidentsError::Internal(_) => ErrorKind::Internal,
        }
    }
}

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
}
