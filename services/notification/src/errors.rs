//! What can go wrong in each notification RPC, named in the RPC's own
//! terms, and which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place).

use candor_platform::grpc::{ErrorKind, InvalidField, RpcError};
use uuid::Uuid;

/// SendEmail.
#[derive(Debug, thiserror::Error)]
pub enum SendEmailError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("idempotency_key: already used for a different request")]
    KeyReused,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// GetDelivery.
#[derive(Debug, thiserror::Error)]
pub enum GetDeliveryError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("delivery {0} not found")]
    NotFound(Uuid),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// ListDeliveries.
pub type ListDeliveriesError = candor_platform::grpc::InputOrInternal;

/// GetIncidentProgress.
pub type GetIncidentProgressError = candor_platform::grpc::IncidentLookupError;

/// RetryFailedNotices.
pub type RetryFailedNoticesError = candor_platform::grpc::IncidentLookupError;

/// RenderBreachNotice.
#[derive(Debug, thiserror::Error)]
pub enum RenderBreachNoticeError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// The incident breaks the event's rules; the message lists each field
    /// ("incident.title: …; incident.summary: …").
    #[error("{0}")]
    InvalidIncident(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for SendEmailError {
    fn kind(&self) -> ErrorKind {
        match self {
            SendEmailError::Invalid(_) => ErrorKind::InvalidArgument,
            SendEmailError::KeyReused => ErrorKind::FailedPrecondition,
            SendEmailError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for GetDeliveryError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetDeliveryError::Invalid(_) => ErrorKind::InvalidArgument,
            GetDeliveryError::NotFound(_) => ErrorKind::NotFound,
            GetDeliveryError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for RenderBreachNoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            RenderBreachNoticeError::Invalid(_) | RenderBreachNoticeError::InvalidIncident(_) => {
                ErrorKind::InvalidArgument
            }
            RenderBreachNoticeError::Internal(_) => ErrorKind::Internal,
        }
    }
}
