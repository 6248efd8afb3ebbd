//! What can go wrong in each account RPC, named in the RPC's own terms, and
//! which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).
//! Every enum also has `Internal`: logged with its cause chain, never sent.
//!
//! Each case also names its reason (`ErrorInfo.reason`), the stable code a
//! caller matches on; every (code, reason) an RPC answers is in the errors
//! table of its comment in `proto/candor/account/v1/account.proto`
//! (`every_error_is_documented_for_its_rpc` keeps the two in step).
//!
//! The reasons and the session errors several RPCs share are here; each
//! RPC's own enum is in the file of its group (sign-in and passwords,
//! sessions and the account, incidents, notices).

use candor_platform::grpc::{ErrorKind, InvalidField, Reason, Refused, RpcError, Throttled};

use crate::domain::password_change::ReplacePasswordError;

mod incidents;
mod notices;
mod sessions;
mod sign_in;

pub use incidents::{
    CountAffectedAccountsError, GetIncidentError, GetIncidentProgressError, ImportAccountsError,
    ListAffectedAccountsError, ListIncidentsError,
};
pub use notices::{AcknowledgeNoticeError, ListNoticesError};
pub use sessions::{
    ConfirmDeactivationError, GetAccountError, LogoutError, RequestDeactivationError,
    RevokeAllSessionsError, SetRolesError, ValidateSessionError,
};
pub use sign_in::{
    ChangePasswordError, LoginError, RegisterError, RequestPasswordResetError, ResetPasswordError,
};

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
    pub(super) fn kind(&self) -> ErrorKind {
        match self {
            NoSession::Credential(refused) => refused.kind(),
            NoSession::Ended => ErrorKind::Unauthenticated,
        }
    }

    pub(super) fn reason(&self) -> Reason {
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

#[cfg(test)]
mod tests;
