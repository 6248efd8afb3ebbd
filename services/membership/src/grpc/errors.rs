//! The errors of each RPC and the one place they become gRPC statuses.
//! Internal causes are logged (with the trace id) and never sent.

use candor_platform::grpc::internal_error;
use tonic::Status;

/// A field that breaks its rule; the status message names the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InvalidField {
    pub field: &'static str,
    pub rule: String,
}

impl InvalidField {
    pub fn new(field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }

    /// Checks a text field against `rule` (length on the raw value, then
    /// characters) and returns it trimmed.
    pub fn check<'a>(
        field: &'static str,
        value: &'a str,
        rule: candor_platform::validation::TextRule,
    ) -> Result<&'a str, Self> {
        rule.check_trimmed(value)
            .map_err(|reason| Self::new(field, reason.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GetMembershipError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("a member may only read their own membership")]
    OtherAccount,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ListCreditsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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

#[derive(Debug, thiserror::Error)]
pub enum IncidentProgressError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<GetMembershipError> for Status {
    fn from(error: GetMembershipError) -> Self {
        match error {
            GetMembershipError::Invalid(invalid) => Status::invalid_argument(invalid.to_string()),
            GetMembershipError::OtherAccount => Status::permission_denied(error.to_string()),
            GetMembershipError::Internal(cause) => internal_error(cause),
        }
    }
}

impl From<ListCreditsError> for Status {
    fn from(error: ListCreditsError) -> Self {
        match error {
            ListCreditsError::Invalid(invalid) => Status::invalid_argument(invalid.to_string()),
            ListCreditsError::PermissionDenied(reason) => Status::permission_denied(reason),
            ListCreditsError::Internal(cause) => internal_error(cause),
        }
    }
}

impl From<GrantCreditError> for Status {
    fn from(error: GrantCreditError) -> Self {
        match error {
            GrantCreditError::Invalid(invalid) => Status::invalid_argument(invalid.to_string()),
            GrantCreditError::KeyReused
            | GrantCreditError::MembershipClosed
            | GrantCreditError::AlreadyVoided
            | GrantCreditError::VoidOfVoid => Status::failed_precondition(error.to_string()),
            GrantCreditError::CreditNotFound => Status::not_found(error.to_string()),
            GrantCreditError::Internal(cause) => internal_error(cause),
        }
    }
}

impl From<IncidentProgressError> for Status {
    fn from(error: IncidentProgressError) -> Self {
        match error {
            IncidentProgressError::Invalid(invalid) => {
                Status::invalid_argument(invalid.to_string())
            }
            IncidentProgressError::Internal(cause) => internal_error(cause),
        }
    }
}
