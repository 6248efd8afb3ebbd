//! Every case of every error enum against the errors table of the RPC that
//! answers it: a reason missing from the proto comment, or an
//! INVALID_ARGUMENT that does not name its field, fails here before a
//! caller meets it.

use candor_platform::grpc::error_kind::check_error_documented;
use candor_platform::grpc::{
    InvalidField, Reason, Refused, RpcError, Throttled, status_with_reason,
};
use tonic::Code;

use super::*;

const SERVICE: &str = "candor.account.v1.AccountService";

fn invalid() -> InvalidField {
    InvalidField::new("field", "breaks its rule")
}

fn throttled() -> Throttled {
    Throttled {
        retry_after_seconds: 3,
    }
}

fn internal() -> anyhow::Error {
    anyhow::anyhow!("x")
}

/// The refusals the platform's `bearer_token` answers for a credential
/// that is not there or not `Bearer <token>`.
fn refusals() -> Vec<Refused> {
    vec![
        Refused(status_with_reason(
            Code::Unauthenticated,
            "missing",
            Reason::CREDENTIAL_MISSING,
        )),
        Refused(status_with_reason(
            Code::Unauthenticated,
            "malformed",
            Reason::CREDENTIAL_MALFORMED,
        )),
    ]
}

/// Every way a member-session RPC finds no session.
fn no_sessions() -> Vec<NoSession> {
    let mut all: Vec<NoSession> = refusals().into_iter().map(NoSession::from).collect();
    all.push(NoSession::Ended);
    all
}

/// Collects why `errors` are not documented for `rpc`.
struct Check {
    failures: Vec<String>,
}

impl Check {
    fn rpc<E: RpcError>(&mut self, rpc: &str, errors: impl IntoIterator<Item = E>) {
        for error in errors {
            if let Err(failure) = check_error_documented(SERVICE, rpc, &error) {
                self.failures.push(failure);
            }
        }
    }
}

#[test]
fn every_error_is_documented_for_its_rpc() {
    let mut check = Check {
        failures: Vec::new(),
    };
    check.rpc(
        "Register",
        [
            RegisterError::from(invalid()),
            RegisterError::from(throttled()),
            RegisterError::EmailTaken,
            RegisterError::from(internal()),
        ],
    );
    check.rpc(
        "Login",
        [
            LoginError::from(invalid()),
            LoginError::from(throttled()),
            LoginError::Failed,
            LoginError::from(internal()),
        ],
    );
    let mut change_password: Vec<ChangePasswordError> = refusals()
        .into_iter()
        .map(ChangePasswordError::from)
        .collect();
    change_password.extend([
        ChangePasswordError::from(invalid()),
        ChangePasswordError::from(throttled()),
        ChangePasswordError::UnknownCredential,
        ChangePasswordError::WrongCurrentPassword,
        ChangePasswordError::from(internal()),
    ]);
    check.rpc("ChangePassword", change_password);
    check.rpc(
        "RequestPasswordReset",
        [
            RequestPasswordResetError::from(invalid()),
            RequestPasswordResetError::from(throttled()),
            RequestPasswordResetError::from(internal()),
        ],
    );
    check.rpc(
        "ResetPassword",
        [
            ResetPasswordError::from(invalid()),
            ResetPasswordError::from(throttled()),
            ResetPasswordError::InvalidToken,
            ResetPasswordError::from(internal()),
        ],
    );
    check.rpc(
        "ValidateSession",
        [
            ValidateSessionError::from(invalid()),
            ValidateSessionError::UnknownSession,
            ValidateSessionError::from(internal()),
        ],
    );
    let mut get_account: Vec<GetAccountError> = no_sessions()
        .into_iter()
        .map(GetAccountError::from)
        .collect();
    get_account.extend([
        GetAccountError::from(invalid()),
        GetAccountError::OtherAccount,
        GetAccountError::AccountNotFound,
        GetAccountError::from(internal()),
    ]);
    check.rpc("GetAccount", get_account);
    check.rpc(
        "SetRoles",
        [
            SetRolesError::from(invalid()),
            SetRolesError::AccountNotFound,
            SetRolesError::Deactivated,
            SetRolesError::from(internal()),
        ],
    );
    let mut logout: Vec<LogoutError> = no_sessions().into_iter().map(LogoutError::from).collect();
    logout.push(LogoutError::from(internal()));
    check.rpc("Logout", logout);
    let mut revoke_all: Vec<RevokeAllSessionsError> = no_sessions()
        .into_iter()
        .map(RevokeAllSessionsError::from)
        .collect();
    revoke_all.push(RevokeAllSessionsError::from(internal()));
    check.rpc("RevokeAllSessions", revoke_all);
    let mut request_deactivation: Vec<RequestDeactivationError> = no_sessions()
        .into_iter()
        .map(RequestDeactivationError::from)
        .collect();
    request_deactivation.extend([
        RequestDeactivationError::from(throttled()),
        RequestDeactivationError::NoEmail,
        RequestDeactivationError::from(internal()),
    ]);
    check.rpc("RequestDeactivation", request_deactivation);
    check.rpc(
        "ConfirmDeactivation",
        [
            ConfirmDeactivationError::from(invalid()),
            ConfirmDeactivationError::InvalidToken,
            ConfirmDeactivationError::from(internal()),
        ],
    );
    check.rpc(
        "ImportAccounts",
        [
            ImportAccountsError::from(invalid()),
            ImportAccountsError::StreamBroken,
            ImportAccountsError::from(internal()),
        ],
    );
    check.rpc(
        "CountAffectedAccounts",
        [
            CountAffectedAccountsError::from(invalid()),
            CountAffectedAccountsError::from(internal()),
        ],
    );
    check.rpc(
        "GetIncident",
        [
            GetIncidentError::from(invalid()),
            GetIncidentError::NotFound,
            GetIncidentError::from(internal()),
        ],
    );
    check.rpc(
        "ListAffectedAccounts",
        [
            ListAffectedAccountsError::from(invalid()),
            ListAffectedAccountsError::IncidentNotFound,
            ListAffectedAccountsError::from(internal()),
        ],
    );
    check.rpc(
        "GetIncidentProgress",
        [
            GetIncidentProgressError::from(invalid()),
            GetIncidentProgressError::IncidentNotFound("incident-1".to_owned()),
            GetIncidentProgressError::from(internal()),
        ],
    );
    check.rpc(
        "ListIncidents",
        [
            ListIncidentsError::from(invalid()),
            ListIncidentsError::from(internal()),
        ],
    );
    let mut list_notices: Vec<ListNoticesError> = no_sessions()
        .into_iter()
        .map(ListNoticesError::from)
        .collect();
    list_notices.push(ListNoticesError::from(internal()));
    check.rpc("ListNotices", list_notices);
    let mut acknowledge: Vec<AcknowledgeNoticeError> = no_sessions()
        .into_iter()
        .map(AcknowledgeNoticeError::from)
        .collect();
    acknowledge.extend([
        AcknowledgeNoticeError::from(invalid()),
        AcknowledgeNoticeError::NoticeNotFound("incident-1".to_owned()),
        AcknowledgeNoticeError::from(internal()),
    ]);
    check.rpc("AcknowledgeNotice", acknowledge);
    assert!(check.failures.is_empty(), "{}", check.failures.join("\n"));
}
