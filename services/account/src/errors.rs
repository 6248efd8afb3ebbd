//! What can go wrong in each account RPC, named in the RPC's own terms, and
//! which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).
//! Every enum also has `Internal`: logged with its cause chain, never sent.
//!
//! Each case also names its reason (`ErrorInfo.reason`), the stable code a
//! caller matches on; every (code, reason) an RPC answers is in the errors
//! table of its comment in `proto/candor/account/v1/account.proto`
//! (`every_error_is_documented_for_its_rpc` keeps the two in step).

use candor_platform::grpc::{ErrorKind, InvalidField, Reason, Refused, RpcError, Throttled};

use crate::domain::password_change::ReplacePasswordError;

/// The email is already registered to an active account.
pub const EMAIL_TAKEN: Reason = Reason::new("EMAIL_TAKEN");
/// Login failed; one reason for every cause (unknown email, wrong
/// password, locked, deactivated or incident-invalidated account) so it
/// reveals nothing.
pub const LOGIN_FAILED: Reason = Reason::new("LOGIN_FAILED");
/// ChangePassword's `current_password` is wrong.
pub const WRONG_CURRENT_PASSWORD: Reason = Reason::new("WRONG_CURRENT_PASSWORD");
/// A password reset token that is unknown, expired, superseded or used.
pub const RESET_TOKEN_INVALID: Reason = Reason::new("RESET_TOKEN_INVALID");
/// A deactivation token that is unknown or expired.
pub const DEACTIVATION_TOKEN_INVALID: Reason = Reason::new("DEACTIVATION_TOKEN_INVALID");
/// A member asked about another member's account.
pub const NOT_OWN_ACCOUNT: Reason = Reason::new("NOT_OWN_ACCOUNT");
/// No account has the id asked for.
pub const ACCOUNT_NOT_FOUND: Reason = Reason::new("ACCOUNT_NOT_FOUND");
/// The account is deactivated, so it cannot be changed.
pub const ACCOUNT_DEACTIVATED: Reason = Reason::new("ACCOUNT_DEACTIVATED");
/// The account has no email address to confirm a deactivation with.
pub const ACCOUNT_HAS_NO_EMAIL: Reason = Reason::new("ACCOUNT_HAS_NO_EMAIL");
/// The member has no notice for the incident named.
pub const NOTICE_NOT_FOUND: Reason = Reason::new("NOTICE_NOT_FOUND");

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

    fn reason(&self) -> Reason {
        match self {
            NoSession::Credential(refused) => refused.reason(),
            NoSession::Ended => Reason::SESSION_INVALID,
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

    fn reason(&self) -> Reason {
        match self {
            RegisterError::Invalid(_) => Reason::INVALID_FIELD,
            RegisterError::Throttled(throttled) => throttled.reason(),
            RegisterError::EmailTaken => EMAIL_TAKEN,
            RegisterError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            RegisterError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            LoginError::Invalid(_) => Reason::INVALID_FIELD,
            LoginError::Throttled(throttled) => throttled.reason(),
            LoginError::Failed => LOGIN_FAILED,
            LoginError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            LoginError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            ChangePasswordError::Credential(refused) => refused.reason(),
            ChangePasswordError::Invalid(_) => Reason::INVALID_FIELD,
            ChangePasswordError::Throttled(throttled) => throttled.reason(),
            ChangePasswordError::UnknownCredential => Reason::SESSION_INVALID,
            ChangePasswordError::WrongCurrentPassword => WRONG_CURRENT_PASSWORD,
            ChangePasswordError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ChangePasswordError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            RequestPasswordResetError::Invalid(_) => Reason::INVALID_FIELD,
            RequestPasswordResetError::Throttled(throttled) => throttled.reason(),
            RequestPasswordResetError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            RequestPasswordResetError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            ResetPasswordError::Invalid(_) => Reason::INVALID_FIELD,
            ResetPasswordError::Throttled(throttled) => throttled.reason(),
            ResetPasswordError::InvalidToken => RESET_TOKEN_INVALID,
            ResetPasswordError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ResetPasswordError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            ImportAccountsError::Invalid(_) => Reason::INVALID_FIELD,
            ImportAccountsError::StreamBroken => Reason::CALL_CANCELLED,
            ImportAccountsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ImportAccountsError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            GetIncidentError::Invalid(_) => Reason::INVALID_FIELD,
            GetIncidentError::NotFound => Reason::INCIDENT_NOT_FOUND,
            GetIncidentError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetIncidentError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            ListAffectedAccountsError::Invalid(_) => Reason::INVALID_FIELD,
            ListAffectedAccountsError::IncidentNotFound => Reason::INCIDENT_NOT_FOUND,
            ListAffectedAccountsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListAffectedAccountsError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            ListIncidentsError::Invalid(_) => Reason::INVALID_FIELD,
            ListIncidentsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListIncidentsError::Invalid(field) => Some(field),
            _ => None,
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

#[cfg(test)]
mod tests;
