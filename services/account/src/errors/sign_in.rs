//! Registration, sign-in and passwords: Register, Login, ChangePassword, RequestPasswordReset, ResetPassword.

// The reasons, the session errors and the platform's error vocabulary
// (imported by the parent module).
use super::*;

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
