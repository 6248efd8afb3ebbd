//! The content of a transactional email (SendEmail), as stored with its job
//! until the job is final.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::JobKind;

/// One of the SendEmail contents; links may hold a secret and are erased
/// from storage once the job is final.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransactionalContent {
    PasswordReset {
        link: String,
        expires_at: DateTime<Utc>,
    },
    DeactivationConfirmation {
        link: String,
        expires_at: DateTime<Utc>,
    },
    PasswordChanged {
        changed_at: DateTime<Utc>,
    },
}

impl TransactionalContent {
    /// The `email_jobs.kind` of this content.
    pub fn kind(&self) -> JobKind {
        match self {
            Self::PasswordReset { .. } => JobKind::PasswordReset,
            Self::DeactivationConfirmation { .. } => JobKind::DeactivationConfirmation,
            Self::PasswordChanged { .. } => JobKind::PasswordChanged,
        }
    }

    pub fn subject(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } => "Reset your password",
            Self::DeactivationConfirmation { .. } => "Confirm the deactivation of your account",
            Self::PasswordChanged { .. } => "Your password was changed",
        }
    }
}
