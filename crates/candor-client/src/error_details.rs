//! What a refused call says beyond its code, for a program to act on:
//! Candor puts a `google.rpc.ErrorInfo` on every error (a stable
//! UPPER_SNAKE_CASE `reason` in domain `candor`, documented per RPC in the
//! proto comments), a `BadRequest` naming each invalid field, and a
//! `RetryInfo` when waiting helps.

use std::collections::HashMap;
use std::time::Duration;

use tonic_types::StatusExt as _;

/// The domain of every reason Candor answers with.
pub const CANDOR_DOMAIN: &str = "candor";

/// One field a request got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request (`email`, `incident.discovered_at`).
    pub field: String,
    /// What is wrong with it, for people.
    pub description: String,
}

/// The machine-readable details of a status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    /// `ErrorInfo.reason`: why, as a stable code (`INVALID_FIELD`,
    /// `CREDENTIAL_UNKNOWN`, …); `None` when the status has no ErrorInfo
    /// (it did not come from a Candor handler, e.g. a proxy's).
    pub reason: Option<String>,
    /// `ErrorInfo.domain`: `candor` for Candor's own reasons.
    pub domain: Option<String>,
    /// `ErrorInfo.metadata` (`field`, `trace_id`, …).
    pub metadata: HashMap<String, String>,
    /// `BadRequest.field_violations`: every field the request got wrong.
    pub field_violations: Vec<FieldViolation>,
    /// `RetryInfo.retry_delay`: how long to wait before trying again.
    pub retry_delay: Option<Duration>,
}

impl ErrorDetails {
    /// The details `status` carries (empty when it carries none, or they
    /// cannot be decoded).
    pub fn of(status: &tonic::Status) -> Self {
        let info = status.get_details_error_info();
        let field_violations = status
            .get_details_bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .into_iter()
                    .map(|violation| FieldViolation {
                        field: violation.field,
                        description: violation.description,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let retry_delay = status
            .get_details_retry_info()
            .and_then(|retry| retry.retry_delay);
        match info {
            Some(info) => Self {
                reason: Some(info.reason),
                domain: Some(info.domain),
                metadata: info.metadata,
                field_violations,
                retry_delay,
            },
            None => Self {
                field_violations,
                retry_delay,
                ..Self::default()
            },
        }
    }

    /// True when the reason is Candor's `reason` (domain `candor`).
    pub fn is(&self, reason: &str) -> bool {
        self.domain.as_deref() == Some(CANDOR_DOMAIN) && self.reason.as_deref() == Some(reason)
    }

    /// The trace id of an INTERNAL error, to quote to Candor's operators.
    pub fn trace_id(&self) -> Option<&str> {
        self.metadata.get("trace_id").map(String::as_str)
    }

    /// The fields named, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.field_violations
            .iter()
            .map(|violation| violation.field.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails as RichDetails, StatusExt};

    #[test]
    fn reads_reason_fields_and_retry_delay() {
        let mut rich = RichDetails::new();
        rich.set_error_info(
            "INVALID_FIELD",
            "candor",
            HashMap::from([("field".to_owned(), "email".to_owned())]),
        );
        rich.add_bad_request_violation("email", "not an address");
        rich.set_retry_info(Some(Duration::from_secs(2)));
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "email: not an address",
            rich,
        );
        let details = ErrorDetails::of(&status);
        assert!(details.is("INVALID_FIELD"));
        assert_eq!(details.fields().collect::<Vec<_>>(), ["email"]);
        assert_eq!(details.field_violations[0].description, "not an address");
        assert_eq!(details.retry_delay, Some(Duration::from_secs(2)));
        assert_eq!(details.trace_id(), None);

        let plain = ErrorDetails::of(&tonic::Status::unavailable("proxy"));
        assert_eq!(plain, ErrorDetails::default());
        assert!(!plain.is("INVALID_FIELD"));
    }
}
