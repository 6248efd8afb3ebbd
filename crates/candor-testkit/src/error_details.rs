//! What a test reads from a Candor error's rich details
//! (`tonic_types::StatusExt`): its `ErrorInfo`, checked to carry the
//! expected reason in domain `candor` and, where the test names the RPC,
//! to be listed in that RPC's errors table.

use tonic::{Code, Status};
use tonic_types::{ErrorInfo, StatusExt as _};

/// The `ErrorInfo` of `status`, checked to carry `reason` in domain
/// `candor`.
pub fn error_info(status: &Status, reason: &str) -> ErrorInfo {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        (reason, "candor"),
        "{status:?}"
    );
    info
}

/// The `ErrorInfo` of `status`, once its code is `code`, its reason
/// `reason` in domain `candor`, and the errors table of `rpc` of `service`
/// (full name, `candor.account.v1.AccountService`) lists them.
pub fn documented_error_info(
    status: &Status,
    service: &str,
    rpc: &str,
    code: Code,
    reason: &str,
) -> ErrorInfo {
    assert_eq!(status.code(), code, "{status:?}");
    let info = error_info(status, reason);
    if let Err(problem) = candor_platform::grpc::check_documented(service, rpc, code, reason) {
        panic!("{problem}");
    }
    info
}

/// The fields the `BadRequest` of `status` names.
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest in {status:?}"))
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

/// The one `BadRequest` field violation of an INVALID_ARGUMENT `status`,
/// checked to name `field` in its violation and in the `ErrorInfo`
/// (reason INVALID_FIELD, metadata `field`), with no retry delay.
pub fn invalid_field(status: &Status, field: &str) -> tonic_types::FieldViolation {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let info = error_info(status, "INVALID_FIELD");
    assert_eq!(
        info.metadata.get("field").map(String::as_str),
        Some(field),
        "{status:?}"
    );
    let mut violations = status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest in {status:?}"))
        .field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    let violation = violations.remove(0);
    assert_eq!(violation.field, field);
    assert!(status.get_details_retry_info().is_none(), "{status:?}");
    violation
}
