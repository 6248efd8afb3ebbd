//! One error vocabulary for every service: each operation's error enum
//! names what went wrong in its own terms and says which [`ErrorKind`] that
//! is ([`RpcError`]); this module turns the kind into a gRPC status, once.
//!
//! Internal failures are logged here, once, with their whole cause chain and
//! the trace id, and answered "internal error (trace id …)": causes never
//! reach the client.
//!
//! Every status a Candor service answers carries the standard rich error
//! details (`google.rpc.Status` in `grpc-status-details-bin`, as Google's
//! AIP-193 has them; read with `tonic_types::StatusExt`):
//! - an `ErrorInfo` with domain `candor` and a stable UPPER_SNAKE_CASE
//!   [`Reason`] from the table in the RPC's proto comment (`trace_id` in its
//!   metadata for INTERNAL, `field` for INVALID_ARGUMENT);
//! - INVALID_ARGUMENT: a `BadRequest` whose field violation names the field
//!   as the contract spells it;
//! - RESOURCE_EXHAUSTED and UNAVAILABLE: a `RetryInfo` with the delay
//!   before a retry may succeed (RESOURCE_EXHAUSTED also keeps its
//!   `retry-after` metadata in whole seconds).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

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

    /// The documented reason (the `ErrorInfo.reason` a caller matches on).
    fn reason(&self) -> Reason;

    /// The field a request broke, for INVALID_ARGUMENT (the `BadRequest`
    /// field violation); `None` for every other kind.
    fn invalid_field(&self) -> Option<&InvalidField> {
        None
    }
}

/// The error domain of every Candor `ErrorInfo`.
pub const ERROR_DOMAIN: &str = "candor";

/// How long a caller should wait before retrying UNAVAILABLE (a dependency
/// that cannot answer now); callers back off from there.
pub const UNAVAILABLE_RETRY_DELAY: Duration = Duration::from_secs(1);

/// A stable, machine-readable reason for an error (`ErrorInfo.reason`):
/// UPPER_SNAKE_CASE, at most 63 characters, documented in the proto comment
/// of every RPC that answers it. A reason, once released, keeps its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reason(&'static str);

impl Reason {
    /// A reason; a name that is not UPPER_SNAKE_CASE fails to compile when
    /// used in a `const`.
    pub const fn new(name: &'static str) -> Self {
        assert!(is_upper_snake_case(name), "a reason is UPPER_SNAKE_CASE");
        Self(name)
    }

    /// The reason as sent.
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    // Reasons the platform defines. Those in [`Reason::COMMON`] may come
    // from any RPC and are listed once per package, in the package comment;
    // the others are listed in the table of each RPC that answers them.
    /// A request field breaks its rule (`BadRequest` names it).
    pub const INVALID_FIELD: Reason = Reason::new("INVALID_FIELD");
    /// Too many attempts from this caller, address or subject.
    pub const THROTTLED: Reason = Reason::new("THROTTLED");
    /// A member session that is unknown, expired or revoked.
    pub const SESSION_INVALID: Reason = Reason::new("SESSION_INVALID");
    /// The caller broke the call off (a client stream ended early).
    pub const CALL_CANCELLED: Reason = Reason::new("CALL_CANCELLED");
    /// The incident named is not (yet) recorded by this service.
    pub const INCIDENT_NOT_FOUND: Reason = Reason::new("INCIDENT_NOT_FOUND");
    /// A failure inside the service; `trace_id` in the metadata.
    pub const INTERNAL_ERROR: Reason = Reason::new("INTERNAL_ERROR");
    /// The server is at GRPC_MAX_CONCURRENT_REQUESTS.
    pub const SERVER_OVERLOADED: Reason = Reason::new("SERVER_OVERLOADED");
    /// The caller's deadline (`grpc-timeout`) passed.
    pub const CALLER_DEADLINE_EXCEEDED: Reason = Reason::new("CALLER_DEADLINE_EXCEEDED");
    /// The server's own limit (GRPC_REQUEST_TIMEOUT_SECONDS or
    /// GRPC_STREAM_TIMEOUT_SECONDS) passed.
    pub const SERVER_TIME_LIMIT: Reason = Reason::new("SERVER_TIME_LIMIT");
    /// No credential on an RPC that needs one.
    pub const CREDENTIAL_MISSING: Reason = Reason::new("CREDENTIAL_MISSING");
    /// A credential that is not `Bearer <token>`.
    pub const CREDENTIAL_MALFORMED: Reason = Reason::new("CREDENTIAL_MALFORMED");
    /// A credential no caller holds, on an RPC no member may call.
    pub const CREDENTIAL_UNKNOWN: Reason = Reason::new("CREDENTIAL_UNKNOWN");
    /// A known caller the RPC's permission row does not name.
    pub const CALLER_NOT_PERMITTED: Reason = Reason::new("CALLER_NOT_PERMITTED");
    /// A service this one needs cannot answer now; retry with backoff.
    pub const DEPENDENCY_UNAVAILABLE: Reason = Reason::new("DEPENDENCY_UNAVAILABLE");
    /// A message over the size limit (GRPC_MAX_MESSAGE_BYTES).
    pub const MESSAGE_TOO_LARGE: Reason = Reason::new("MESSAGE_TOO_LARGE");
    /// This port does not serve the method (another service's port, or an
    /// RPC newer than this server).
    pub const RPC_NOT_SERVED: Reason = Reason::new("RPC_NOT_SERVED");

    /// The reasons any RPC may answer, with their codes: every package's
    /// comment has them in its errors table.
    pub const COMMON: [(Code, Reason); 11] = [
        (Code::Unauthenticated, Reason::CREDENTIAL_MISSING),
        (Code::Unauthenticated, Reason::CREDENTIAL_MALFORMED),
        (Code::Unauthenticated, Reason::CREDENTIAL_UNKNOWN),
        (Code::PermissionDenied, Reason::CALLER_NOT_PERMITTED),
        (Code::ResourceExhausted, Reason::SERVER_OVERLOADED),
        (Code::DeadlineExceeded, Reason::CALLER_DEADLINE_EXCEEDED),
        (Code::DeadlineExceeded, Reason::SERVER_TIME_LIMIT),
        (Code::Unavailable, Reason::DEPENDENCY_UNAVAILABLE),
        (Code::Internal, Reason::INTERNAL_ERROR),
        (Code::OutOfRange, Reason::MESSAGE_TOO_LARGE),
        (Code::Unimplemented, Reason::RPC_NOT_SERVED),
    ];

    /// Every reason the platform defines.
    pub const PLATFORM: [Reason; 16] = [
        Reason::INVALID_FIELD,
        Reason::THROTTLED,
        Reason::SESSION_INVALID,
        Reason::CALL_CANCELLED,
        Reason::INCIDENT_NOT_FOUND,
        Reason::INTERNAL_ERROR,
        Reason::SERVER_OVERLOADED,
        Reason::CALLER_DEADLINE_EXCEEDED,
        Reason::SERVER_TIME_LIMIT,
        Reason::CREDENTIAL_MISSING,
        Reason::CREDENTIAL_MALFORMED,
        Reason::CREDENTIAL_UNKNOWN,
        Reason::CALLER_NOT_PERMITTED,
        Reason::DEPENDENCY_UNAVAILABLE,
        Reason::MESSAGE_TOO_LARGE,
        Reason::RPC_NOT_SERVED,
    ];

    /// The reason of a status the platform built without one (a status
    /// from a library): the kind's generic reason.
    pub fn of_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => Reason::INVALID_FIELD,
            ErrorKind::NotFound => Reason::new("NOT_FOUND"),
            ErrorKind::AlreadyExists => Reason::new("ALREADY_EXISTS"),
            ErrorKind::FailedPrecondition => Reason::new("FAILED_PRECONDITION"),
            ErrorKind::PermissionDenied => Reason::CALLER_NOT_PERMITTED,
            ErrorKind::Unauthenticated => Reason::CREDENTIAL_UNKNOWN,
            ErrorKind::ResourceExhausted { .. } => Reason::THROTTLED,
            ErrorKind::Unavailable => Reason::DEPENDENCY_UNAVAILABLE,
            ErrorKind::Cancelled => Reason::CALL_CANCELLED,
            ErrorKind::Internal => Reason::INTERNAL_ERROR,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.0)
    }
}

const fn is_upper_snake_case(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 63 || !bytes[0].is_ascii_uppercase() {
        return false;
    }
    if bytes[bytes.len() - 1] == b'_' {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let allowed = byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_';
        if !allowed || (byte == b'_' && bytes[index + 1] == b'_') {
            return false;
        }
        index += 1;
    }
    true
}

/// A status with `code`, `message` and the details every Candor error
/// carries: `ErrorInfo` (reason, domain `candor`), and `RetryInfo` for
/// RESOURCE_EXHAUSTED and UNAVAILABLE (one second unless the caller of
/// [`status_with_details`] says otherwise).
pub fn status_with_reason(code: Code, message: impl Into<String>, reason: Reason) -> Status {
    status_with_details(code, message.into(), reason, RichDetails::default())
}

/// What a status carries besides its code, message and reason.
#[derive(Debug, Default)]
pub struct RichDetails<'a> {
    /// The field a request broke (INVALID_ARGUMENT).
    pub invalid_field: Option<&'a InvalidField>,
    /// When a retry may succeed (RESOURCE_EXHAUSTED, UNAVAILABLE).
    pub retry_after: Option<Duration>,
    /// More `ErrorInfo` metadata (`trace_id`).
    pub metadata: Vec<(&'static str, String)>,
}

/// A status with `code`, `message`, `reason` and `details` (see
/// [`RichDetails`]); the reasons' table is in each RPC's proto comment.
pub fn status_with_details(
    code: Code,
    message: String,
    reason: Reason,
    details: RichDetails<'_>,
) -> Status {
    let mut metadata: HashMap<String, String> = details
        .metadata
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    let mut rich = ErrorDetails::new();
    if let Some(field) = details.invalid_field {
        metadata.insert("field".to_owned(), field.field.to_owned());
        rich.add_bad_request_violation(field.field, field.reason.clone());
    }
    rich.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
    let retry_after = match code {
        Code::ResourceExhausted | Code::Unavailable => {
            Some(details.retry_after.unwrap_or(UNAVAILABLE_RETRY_DELAY))
        }
        _ => None,
    };
    if let Some(delay) = retry_after {
        rich.set_retry_info(Some(delay));
    }
    let mut status = Status::with_error_details(code, message, rich);
    if code == Code::ResourceExhausted
        && let Some(delay) = retry_after
        && let Ok(value) = delay.as_secs().max(1).to_string().parse()
    {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}

/// Gives an error answered without details (by tonic itself: an unknown
/// method, a message over the size limit, a body that does not decode) the
/// details every Candor error carries. Only trailers-only answers (the
/// status in the response headers, how every unary error is sent) are
/// seen; the server adds this outside every other layer.
pub fn fill_in_error_details(
    response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers();
    let failed = headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() != b"0");
    if !failed || headers.contains_key("grpc-status-details-bin") {
        return response;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return response;
    };
    let reason = match status.code() {
        Code::OutOfRange => Reason::MESSAGE_TOO_LARGE,
        Code::Unimplemented => Reason::RPC_NOT_SERVED,
        code => Reason::of_kind(ErrorKind::of_code(code)),
    };
    status_with_reason(status.code(), status.message(), reason).into_http()
}

/// The `ErrorInfo.reason` a status carries, if it carries one.
pub fn reason_of(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// The status that answers `error`: the kind's code with the error's
/// message and its rich details ([`status_with_details`]); for an internal
/// failure the logged cause's trace id only.
pub fn status_of(error: &(impl RpcError + ?Sized)) -> Status {
    let kind = error.kind();
    if kind == ErrorKind::Internal {
        return internal_status(&cause_chain(error));
    }
    let retry_after = match kind {
        ErrorKind::ResourceExhausted {
            retry_after_seconds,
        } => Some(Duration::from_secs(retry_after_seconds.max(1))),
        _ => None,
    };
    status_with_details(
        kind.code(),
        error.to_string(),
        error.reason(),
        RichDetails {
            invalid_field: error.invalid_field(),
            retry_after,
            metadata: Vec::new(),
        },
    )
}

/// Logs an internal failure with its full cause chain and returns a status
/// that says nothing about it: internal causes never reach the client.
pub fn internal_error(error: anyhow::Error) -> Status {
    internal_status(&format!("{error:#}"))
}

fn internal_status(chain: &str) -> Status {
    let trace_id = crate::telemetry::current_trace_id();
    tracing::error!(error = %chain, %trace_id, "internal error");
    status_with_details(
        Code::Internal,
        format!("internal error (trace id {trace_id})"),
        Reason::INTERNAL_ERROR,
        RichDetails {
            metadata: vec![("trace_id", trace_id)],
            ..RichDetails::default()
        },
    )
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

    fn reason(&self) -> Reason {
        Reason::INVALID_FIELD
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        Some(self)
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

    /// The reason the refusing layer gave, else the kind's generic one.
    fn reason(&self) -> Reason {
        let given = reason_of(&self.0);
        Reason::PLATFORM
            .into_iter()
            .find(|reason| given.as_deref() == Some(reason.as_str()))
            .unwrap_or_else(|| Reason::of_kind(self.kind()))
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

    fn reason(&self) -> Reason {
        Reason::THROTTLED
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

    fn reason(&self) -> Reason {
        match self {
            InputOrInternal::Invalid(_) => Reason::INVALID_FIELD,
            InputOrInternal::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            InputOrInternal::Invalid(field) => Some(field),
            InputOrInternal::Internal(_) => None,
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

    fn reason(&self) -> Reason {
        match self {
            IncidentLookupError::Invalid(_) => Reason::INVALID_FIELD,
            IncidentLookupError::IncidentNotFound(_) => Reason::INCIDENT_NOT_FOUND,
            IncidentLookupError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            IncidentLookupError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// The response of an RPC handler, or the status its error maps to.
pub fn respond<T, E: RpcError>(result: Result<T, E>) -> Result<tonic::Response<T>, tonic::Status> {
    result
        .map(tonic::Response::new)
        .map_err(|error| status_of(&error))
}

/// Checks that `code` with `reason` is documented for `rpc` of `service`
/// (its full name, `candor.account.v1.AccountService`): in the RPC's own
/// errors table or its package's. For each service's tests of its errors.
pub fn check_documented(service: &str, rpc: &str, code: Code, reason: &str) -> Result<(), String> {
    let rows = candor_proto::reference::documented_errors(service, rpc)?;
    let code_name = code_name(code);
    if rows
        .iter()
        .any(|row| row.code == code_name && row.reason == reason)
    {
        Ok(())
    } else {
        Err(format!(
            "{service}/{rpc} answers {code_name} {reason}, which its proto comment's errors table does not list"
        ))
    }
}

/// Checks that `error`'s status is documented for `rpc` of `service` (see
/// [`check_documented`]).
pub fn check_error_documented(
    service: &str,
    rpc: &str,
    error: &(impl RpcError + ?Sized),
) -> Result<(), String> {
    if error.kind() == ErrorKind::InvalidArgument && error.invalid_field().is_none() {
        return Err(format!(
            "{service}/{rpc}: {error} is INVALID_ARGUMENT without the field its BadRequest names"
        ));
    }
    check_documented(service, rpc, error.kind().code(), error.reason().as_str())
}

/// Checks every `(rpc, error)` of `service` with [`check_error_documented`]
/// and reports all that are not documented at once.
pub fn check_errors_documented<'a>(
    service: &str,
    errors: impl IntoIterator<Item = (&'a str, Box<dyn RpcError>)>,
) -> Result<(), String> {
    let undocumented: Vec<String> = errors
        .into_iter()
        .filter_map(|(rpc, error)| check_error_documented(service, rpc, error.as_ref()).err())
        .collect();
    if undocumented.is_empty() {
        Ok(())
    } else {
        Err(undocumented.join("\n"))
    }
}

/// A code's name as the specification spells it (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
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

        fn reason(&self) -> Reason {
            match self {
                Example::Slow(_) => Reason::new("SLOW_DOWN"),
                Example::Internal(_) => Reason::INTERNAL_ERROR,
            }
        }
    }

    fn error_info(status: &Status) -> tonic_types::ErrorInfo {
        status.get_details_error_info().expect("an ErrorInfo")
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
        let info = error_info(&status);
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("SLOW_DOWN", "candor")
        );
        let retry = status.get_details_retry_info().expect("a RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
        let status = status_of(&Example::Slow(42));
        let retry = status.get_details_retry_info().expect("a RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(42)));
        assert!(status.get_details_bad_request().is_none());
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
        let info = error_info(&status);
        assert_eq!(info.reason, "INTERNAL_ERROR");
        assert_eq!(info.metadata.get("trace_id").map(String::len), Some(32));
        assert!(status.get_details_retry_info().is_none());
    }

    #[test]
    fn refusals_keep_their_code_and_message() {
        let status = status_of(&Refused(Status::unauthenticated("no token")));
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "no token");
        // A refusal without a reason gets its kind's; one with a reason keeps it.
        assert_eq!(error_info(&status).reason, "CREDENTIAL_UNKNOWN");
        let given = status_with_reason(
            Code::Unauthenticated,
            "no token",
            Reason::CREDENTIAL_MISSING,
        );
        let status = status_of(&Refused(given));
        assert_eq!(error_info(&status).reason, "CREDENTIAL_MISSING");
    }

    #[test]
    fn invalid_fields_name_the_field() {
        let status = status_of(&InvalidField::new("account_id", "must be a UUID"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "account_id: must be a UUID");
        let info = error_info(&status);
        assert_eq!(info.reason, "INVALID_FIELD");
        assert_eq!(
            info.metadata.get("field").map(String::as_str),
            Some("account_id")
        );
        let bad_request = status.get_details_bad_request().expect("a BadRequest");
        assert_eq!(bad_request.field_violations.len(), 1);
        assert_eq!(bad_request.field_violations[0].field, "account_id");
        assert_eq!(
            bad_request.field_violations[0].description,
            "must be a UUID"
        );
    }

    #[test]
    fn unavailable_carries_a_retry_delay_and_others_none() {
        let status = status_with_reason(Code::Unavailable, "later", Reason::DEPENDENCY_UNAVAILABLE);
        let retry = status.get_details_retry_info().expect("a RetryInfo");
        assert_eq!(retry.retry_delay, Some(UNAVAILABLE_RETRY_DELAY));
        assert!(status.metadata().get("retry-after").is_none());
        let status = status_with_reason(Code::NotFound, "gone", Reason::INCIDENT_NOT_FOUND);
        assert!(status.get_details_retry_info().is_none());
        assert_eq!(reason_of(&status).as_deref(), Some("INCIDENT_NOT_FOUND"));
    }

    fn check_common_table(service: &str) {
        let rows = candor_proto::reference::package_errors(service).unwrap();
        for (code, reason) in Reason::COMMON {
            assert!(
                rows.iter()
                    .any(|row| row.code == code_name(code) && row.reason == reason.as_str()),
                "{service}'s package comment does not list {} {reason}",
                code_name(code)
            );
        }
    }

    #[test]
    fn every_package_lists_the_errors_any_rpc_may_answer() {
        check_common_table("candor.account.v1.AccountService");
        check_common_table("candor.notification.v1.NotificationService");
        check_common_table("candor.membership.v1.MembershipService");
        check_common_table("candor.forum.v1.ForumService");
    }

    #[test]
    fn reasons_are_upper_snake_case() {
        for good in ["A", "EMAIL_TAKEN", "V2_FORMAT"] {
            assert!(is_upper_snake_case(good), "{good}");
        }
        for bad in [
            "",
            "email_taken",
            "EMAIL__TAKEN",
            "_EMAIL",
            "EMAIL_",
            "2FA",
            "EMAIL-TAKEN",
        ] {
            assert!(!is_upper_snake_case(bad), "{bad}");
        }
        for reason in Reason::PLATFORM {
            assert!(is_upper_snake_case(reason.as_str()));
        }
        for (_, reason) in Reason::COMMON {
            assert!(Reason::PLATFORM.contains(&reason), "{reason}");
        }
    }
}
