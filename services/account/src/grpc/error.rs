//! The one place where the account service's errors become gRPC statuses.
//! Internal causes are logged with their context and never sent.

use tonic::{Code, Status};

/// What an RPC can fail with; each operation uses the cases it needs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field breaks its rule; the message names it.
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(&'static str),
    #[error("{0}")]
    FailedPrecondition(&'static str),
    /// Throttled; the client may retry after this many seconds.
    #[error("too many attempts, retry later")]
    Throttled { retry_after_seconds: i64 },
    /// The platform's own status (credential checks).
    #[error("{0}")]
    Status(Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.to_string(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>, context: &'static str) -> Self {
        Self::Internal(error.into().context(context))
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        Self::Status(status)
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = error.to_string();
        match error {
            ApiError::InvalidArgument { .. } => Status::new(Code::InvalidArgument, message),
            ApiError::Unauthenticated(_) => Status::new(Code::Unauthenticated, message),
            ApiError::PermissionDenied(_) => Status::new(Code::PermissionDenied, message),
            ApiError::NotFound(_) => Status::new(Code::NotFound, message),
            ApiError::AlreadyExists(_) => Status::new(Code::AlreadyExists, message),
            ApiError::FailedPrecondition(_) => Status::new(Code::FailedPrecondition, message),
            ApiError::Throttled {
                retry_after_seconds,
            } => {
                let mut status = Status::new(Code::ResourceExhausted, message);
                if let Ok(value) = retry_after_seconds.max(1).to_string().parse() {
                    status.metadata_mut().insert("retry-after", value);
                }
                status
            }
            ApiError::Status(status) => status,
            ApiError::Internal(error) => candor_platform::grpc::internal_error(error),
        }
    }
}

/// Shorthand: a sqlx failure with what was being done.
pub trait DbContext<T> {
    fn db(self, context: &'static str) -> Result<T, ApiError>;
}

impl<T> DbContext<T> for Result<T, sqlx::Error> {
    fn db(self, context: &'static str) -> Result<T, ApiError> {
        self.map_err(|error| ApiError::internal(error, context))
    }
}
