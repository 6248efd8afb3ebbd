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
#[derive(Debug, thiserror::Error)]
pub enum ListDeliveriesError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// GetIncidentProgress.
#[derive(Debug, thiserror::Error)]
pub enum GetIncidentProgressError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident {0} is not recorded")]
    IncidentNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// RetryFailedNotices.
#[derive(Debug, thiserror::Error)]
pub enum RetryFailedNoticesError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident {0} is not recorded")]
    IncidentNotFound(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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

impl RpcError for ListDeliveriesError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListDeliveriesError::Invalid(_) => ErrorKind::InvalidArgument,
            ListDeliveriesError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for GetIncidentProgressError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetIncidentProgressError::Invalid(_) => ErrorKind::InvalidArgument,
            GetIncidentProgressError::IncidentNotFound(_) => ErrorKind::NotFound,
            GetIncidentProgressError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for RetryFailedNoticesError {
    fn kind(&self) -> ErrorKind {
        match self {
            RetryFailedNoticesError::Invalid(_) => ErrorKind::InvalidArgument,
            RetryFailedNoticesError::IncidentNotFound(_) => ErrorKind::NotFound,
            RetryFailedNoticesError::Internal(_) => ErrorKind::Internal,
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
