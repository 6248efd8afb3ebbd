//! The one place API errors become gRPC statuses. Internal causes are
//! logged here and never sent to the client.

use tonic::{Code, Status};

/// What went wrong in an RPC, as the caller can act on it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field breaks its rule; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// The idempotency key was used for a different request.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidArgument(message) => Status::new(Code::InvalidArgument, message),
            ApiError::NotFound(message) => Status::new(Code::NotFound, message),
            ApiError::FailedPrecondition(message) => Status::new(Code::FailedPrecondition, message),
            ApiError::Internal(error) => candor_platform::grpc::internal_error(error),
        }
    }
}
