//! What can go wrong in each membership RPC, named in the RPC's own terms,
//! and which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).
//!
//! Each case also names its reason (`ErrorInfo.reason`), the stable code a
//! caller matches on; every (code, reason) an RPC answers is in the errors
//! table of its comment in `proto/candor/membership/v1/membership.proto`
//! (`every_error_is_documented_for_its_rpc` keeps the two in step).

use candor_platform::auth::SessionError;
use candor_platform::grpc::{ErrorKind, InvalidField, Reason, RpcError};

/// A member asked about another member's account (the account service
/// answers the same reason for the same case).
pub const NOT_OWN_ACCOUNT: Reason = Reason::new("NOT_OWN_ACCOUNT");
/// A member asked to list credits by incident, which only operators and
/// services may.
pub const LIST_BY_INCIDENT_NOT_PERMITTED: Reason = Reason::new("LIST_BY_INCIDENT_NOT_PERMITTED");
/// The idempotency key was used before for a different request.
pub const IDEMPOTENCY_KEY_REUSED: Reason = Reason::new("IDEMPOTENCY_KEY_REUSED");
/// The membership is closed (its account was deactivated).
pub const MEMBERSHIP_CLOSED: Reason = Reason::new("MEMBERSHIP_CLOSED");
/// The ledger entry to void is voided already.
pub const CREDIT_ALREADY_VOIDED: Reason = Reason::new("CREDIT_ALREADY_VOIDED");
/// The ledger entry to void is itself a VOID entry.
pub const CREDIT_IS_A_VOID: Reason = Reason::new("CREDIT_IS_A_VOID");
/// The ledger entry to void is not in the account's ledger.
pub const CREDIT_NOT_FOUND: Reason = Reason::new("CREDIT_NOT_FOUND");

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

    fn reason(&self) -> Reason {
        match self {
            GetMembershipError::Session(error) => error.reason(),
            GetMembershipError::Invalid(_) => Reason::INVALID_FIELD,
            GetMembershipError::OtherAccount => NOT_OWN_ACCOUNT,
            GetMembershipError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetMembershipError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            ListCreditsError::Session(error) => error.reason(),
            ListCreditsError::Invalid(_) => Reason::INVALID_FIELD,
            ListCreditsError::OtherAccount => NOT_OWN_ACCOUNT,
            ListCreditsError::ByIncidentNeedsCaller => LIST_BY_INCIDENT_NOT_PERMITTED,
            ListCreditsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListCreditsError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            GrantCreditError::Invalid(_) => Reason::INVALID_FIELD,
            GrantCreditError::KeyReused => IDEMPOTENCY_KEY_REUSED,
            GrantCreditError::MembershipClosed => MEMBERSHIP_CLOSED,
            GrantCreditError::AlreadyVoided => CREDIT_ALREADY_VOIDED,
            GrantCreditError::VoidOfVoid => CREDIT_IS_A_VOID,
            GrantCreditError::CreditNotFound => CREDIT_NOT_FOUND,
            GrantCreditError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GrantCreditError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use candor_platform::grpc::Reason;
    use candor_platform::grpc::error_kind::check_error_documented;
    use tonic::Status;

    use super::*;

    const SERVICE: &str = "candor.membership.v1.MembershipService";

    fn invalid() -> InvalidField {
        InvalidField::new("field", "breaks its rule")
    }

    fn internal() -> anyhow::Error {
        anyhow::anyhow!("x")
    }

    /// Every way the platform's `SessionResolver` finds no caller.
    fn session_errors() -> Vec<SessionError> {
        vec![
            SessionError::Unauthenticated("missing".to_owned(), Reason::CREDENTIAL_MISSING),
            SessionError::Unauthenticated("malformed".to_owned(), Reason::CREDENTIAL_MALFORMED),
            SessionError::Unauthenticated("ended".to_owned(), Reason::SESSION_INVALID),
            SessionError::Unavailable(Status::unavailable("account service down")),
            SessionError::Internal(internal()),
        ]
    }

    fn check<E: RpcError>(
        rpc: &str,
        errors: impl IntoIterator<Item = E>,
        failures: &mut Vec<String>,
    ) {
        for error in errors {
            if let Err(failure) = check_error_documented(SERVICE, rpc, &error) {
                failures.push(failure);
            }
        }
    }

    #[test]
    fn every_error_is_documented_for_its_rpc() {
        let mut failures = Vec::new();
        let mut get_membership: Vec<GetMembershipError> = session_errors()
            .into_iter()
            .map(GetMembershipError::from)
            .collect();
        get_membership.extend([
            GetMembershipError::from(invalid()),
            GetMembershipError::OtherAccount,
            GetMembershipError::from(internal()),
        ]);
        check("GetMembership", get_membership, &mut failures);
        let mut list_credits: Vec<ListCreditsError> = session_errors()
            .into_iter()
            .map(ListCreditsError::from)
            .collect();
        list_credits.extend([
            ListCreditsError::from(invalid()),
            ListCreditsError::OtherAccount,
            ListCreditsError::ByIncidentNeedsCaller,
            ListCreditsError::from(internal()),
        ]);
        check("ListCredits", list_credits, &mut failures);
        check(
            "GrantCredit",
            [
                GrantCreditError::from(invalid()),
                GrantCreditError::KeyReused,
                GrantCreditError::MembershipClosed,
                GrantCreditError::AlreadyVoided,
                GrantCreditError::VoidOfVoid,
                GrantCreditError::CreditNotFound,
                GrantCreditError::from(internal()),
            ],
            &mut failures,
        );
        check(
            "GetIncidentProgress",
            [
                GetIncidentProgressError::from(invalid()),
                GetIncidentProgressError::IncidentNotFound("incident-1".to_owned()),
                GetIncidentProgressError::from(internal()),
            ],
            &mut failures,
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
