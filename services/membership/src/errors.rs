//! What can go wrong in each membership RPC, named in the RPC's own terms,
//! and which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).

use candor_platform::auth::SessionError;
use candor_platform::grpc::{ErrorKind, InvalidField, RpcError};

/// GetMembership.
#[derive(Debug, thiserror::Error)]
pub enum GetMembershipError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("a member may only read their own membership")]
    OtherAccount,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// ListCredits.
#[derive(Debug, thiserror::Error)]
pub enum ListCreditsError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("a member may only list their own credits")]
    OtherAccount,
    #[error("listing by incident is open to operators and services only")]
    ByIncidentNeedsCaller,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// GrantCredit.
#[derive(Debug, thiserror::Error)]
pub enum GrantCreditError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("idempotency_key was already used for a different request")]
    KeyReused,
    #[error("the membership of account_id is closed (account deactivated)")]
    MembershipClosed,
    #[error("voids_credit_id: the entry is already voided")]
    AlreadyVoided,
    #[error("voids_credit_id: a VOID entry cannot be voided")]
    VoidOfVoid,
    #[error("voids_credit_id: no such entry in this account's ledger")]
    CreditNotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// GetIncidentProgress.
pub type GetIncidentProgressError = candor_platform::grpc::IncidentLookupError;

impl RpcError for GetMembershipError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetMembershipError::Session(error) => error.kind(),
            GetMembershipError::Invalid(_) => ErrorKind::InvalidArgument,
            GetMembershipError::OtherAccount => ErrorKind::PermissionDenied,
            GetMembershipError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for ListCreditsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListCreditsError::Session(error) => error.kind(),
            ListCreditsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListCreditsError::OtherAccount | ListCreditsError::ByIncidentNeedsCaller => {
                ErrorKind::PermissionDenied
            }
            ListCreditsError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for GrantCreditError {
    fn kind(&self) -> ErrorKind {
        match self {
            GrantCreditError::Invalid(_) => ErrorKind::InvalidArgument,
            GrantCreditError::KeyReused
            | GrantCreditError::MembershipClosed
            | GrantCreditError::AlreadyVoided
            | GrantCreditError::VoidOfVoid => ErrorKind::FailedPrecondition,
            GrantCreditError::CreditNotFound => ErrorKind::NotFound,
            GrantCreditError::Internal(_) => ErrorKind::Internal,
        }
    }
}
