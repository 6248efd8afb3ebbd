//! One error vocabulary for every service: each operation's error enum
//! names what went wrong in its own terms and says which [`ErrorKind`] that
//! is ([`RpcError`]); this module turns the kind into a gRPC status, once.
//!
//! Internal failures are logged here, once, with their whole cause chain and
//! the trace id, and answered "internal error (trace id …)": causes never
//! reach the client.

use std::fmt::Write as _;

use tonic::{Code, Status};

pub use crate::validation::InvalidField;

/// What kind of failure an operation met, as a client can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request breaks a rule; the message names the field.
    InvalidArgument,
    /// The thing asked for does not exist.
    NotFound,
    /// A conflict: the thing to create exists already.
    AlreadyExists,
    /// The request is well formed but the state does not allow it now.
    FailedPrecondition,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The caller could not be established.
    Unauthenticated,
    /// Throttled: the caller may retry after this many seconds, sent as
    /// `retry-after` metadata.
    ResourceExhausted {
        /// Seconds to wait before retrying (at least 1 is sent).
        retry_after_seconds: u64,
    },
    /// A dependency cannot answer now; retry with backoff.
    Unavailable,
    /// The caller gave up (a client stream that broke off).
    Cancelled,
    /// A bug or an infrastructure failure; the cause is logged, not sent.
    Internal,
}

impl ErrorKind {
    /// The gRPC code of this kind.
    pub fn code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::ResourceExhausted { .. } => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Cancelled => Code::Cancelled,
            ErrorKind::Internal => Code::Internal,
        }
    }

    /// The kind of a status the platform's auth layer answered with
    /// (see [`Refused`]).
    pub fn of_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidArgument,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists | Code::Aborted => ErrorKind::AlreadyExists,
            Code::FailedPrecondition => ErrorKind::FailedPrecondition,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::ResourceExhausted => ErrorKind::ResourceExhausted {
                retry_after_seconds: 1,
            },
            Code::Unavailable | Code::DeadlineExceeded => ErrorKind::Unavailable,
            Code::Cancelled => ErrorKind::Cancelled,
            Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
                ErrorKind::Internal
            }
        }
    }
}

/// An operation's error: its message (`Display`) is what the client reads,
/// its kind decides the status. For [`ErrorKind::Internal`] the message and
/// its sources are logged instead.
pub trait RpcError: std::error::Error {
    /// Which kind of failure this is.
    fn kind(&self) -> ErrorKind;
}

/// The status that answers `error`: the kind's code with the error's
/// message, `retry-after` when throttled, and for an internal failure the
/// logged cause's trace id only.
pub fn status_of(error: &(impl RpcError + ?Sized)) -> Status {
    let kind = error.kind();
    if kind == ErrorKind::Internal {
        return internal_status(&cause_chain(error));
    }
    let mut status = Status::new(kind.code(), error.to_string());
    if let ErrorKind::ResourceExhausted {
        retry_after_seconds,
    } = kind
        && let Ok(value) = retry_after_seconds.max(1).to_string().parse()
    {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}

/// Logs an internal failure with its full cause chain and returns a status
/// that says nothing about it: internal causes never reach the client.
pub fn internal_error(error: anyhow::Error) -> Status {
    internal_status(&format!("{error:#}"))
}

fn internal_status(chain: &str) -> Status {
    let trace_id = crate::telemetry::current_trace_id();
    tracing::error!(error = %chain, %trace_id, "internal error");
    Status::internal(format!("internal error (trace id {trace_id})"))
}

/// "outer: cause: root cause", as anyhow's `{:#}` prints it.
fn cause_chain(error: &(impl std::error::Error + ?Sized)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(chain, ": {cause}");
        source = cause.source();
    }
    chain
}

impl RpcError for InvalidField {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

/// The auth layer's refusal (a missing or malformed credential, a call the
/// permission table does not admit), answered with its code and message.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message())]
pub struct Refused(pub Status);

impl From<Status> for Refused {
    fn from(status: Status) -> Self {
        Self(status)
    }
}

impl RpcError for Refused {
    fn kind(&self) -> ErrorKind {
        ErrorKind::of_code(self.0.code())
    }
}

/// Throttled: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts, retry later")]
pub struct Throttled {
    /// Seconds until an attempt may succeed.
    pub retry_after_seconds: u64,
}

impl RpcError for Throttled {
    fn kind(&self) -> ErrorKind {
        ErrorKind::ResourceExhausted {
            retry_after_seconds: self.retry_after_seconds,
        }
    }
}

/// The error of an RPC that can only fail on its input or inside the
/// service (a plain read such as ListDeliveries). A service names it per
/// RPC: `pub type ListDeliveriesError = InputOrInternal;`.
#[derive(Debug, thiserror::Error)]
pub enum InputOrInternal {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for InputOrInternal {
    fn kind(&self) -> ErrorKind {
        match self {
            InputOrInternal::Invalid(_) => ErrorKind::InvalidArgument,
            InputOrInternal::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// The error of an RPC about one incident (GetIncidentProgress in every
/// service, RetryFailedNotices): a bad id, an incident the service has not
/// recorded (NOT_FOUND, so a caller can tell "not yet" from "nothing"), or
/// an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum IncidentLookupError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident {0} is not recorded")]
    IncidentNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for IncidentLookupError {
    fn kind(&self) -> ErrorKind {
        match self {
            IncidentLookupError::Invalid(_) => ErrorKind::InvalidArgument,
            IncidentLookupError::IncidentNotFound(_) => ErrorKind::NotFound,
            IncidentLookupError::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// The response of an RPC handler, or the status its error maps to.
pub fn respond<T, E: RpcError>(result: Result<T, E>) -> Result<tonic::Response<T>, tonic::Status> {
    result
        .map(tonic::Response::new)
        .map_err(|error| status_of(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Example {
        #[error("slow down")]
        Slow(u64),
        #[error(transparent)]
        Internal(#[from] anyhow::Error),
    }

    impl RpcError for Example {
        fn kind(&self) -> ErrorKind {
            match self {
                Example::Slow(seconds) => ErrorKind::ResourceExhausted {
                    retry_after_seconds: *seconds,
                },
                Example::Internal(_) => ErrorKind::Internal,
            }
        }
    }

    #[test]
    fn throttling_sends_retry_after_of_at_least_one_second() {
        let status = status_of(&Example::Slow(0));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "slow down");
        assert_eq!(
            status
                .metadata()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
    }

    #[test]
    fn internal_causes_are_not_sent_and_the_chain_is_complete() {
        let error = Example::from(
            anyhow::anyhow!("connection reset")
                .context("reading the row")
                .context("committing"),
        );
        assert_eq!(
            cause_chain(&error),
            "committing: reading the row: connection reset"
        );
        let status = status_of(&error);
        assert_eq!(status.code(), Code::Internal);
        assert!(status.message().starts_with("internal error (trace id "));
        assert!(!status.message().contains("connection reset"));
    }

    #[test]
    fn refusals_keep_their_code_and_message() {
        let status = status_of(&Refused(Status::unauthenticated("no token")));
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "no token");
    }

    #[test]
    fn invalid_fields_name_the_field() {
        let status = status_of(&InvalidField::new("account_id", "must be a UUID"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "account_id: must be a UUID");
    }
}
