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

/// RecordDeliveryReport.
#[derive(Debug, thiserror::Error)]
pub enum RecordDeliveryReportError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(
        "no delivery has the message_id (or, without one, no email was sent to the recipient), or the two do not name the same delivery"
    )]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// ListDeliveries.
pub type ListDeliveriesError = candor_platform::grpc::InputOrInternal;

/// GetIncidentProgress.
pub type GetIncidentProgressError = candor_platform::grpc::IncidentLookupError;

/// RetryFailedNotices.
pub type RetryFailedNoticesError = candor_platform::grpc::IncidentLookupError;

/// Why the incident or sample member of RenderBreachNotice or
/// SendTestNotice cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum SampleRejected {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// The incident breaks the event's rules; the message lists each field
    /// ("incident.title: …; incident.summary: …").
    #[error("{0}")]
    InvalidIncident(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// RenderBreachNotice.
#[derive(Debug, thiserror::Error)]
pub enum RenderBreachNoticeError {
    /// The incident or the sample member is not valid.
    #[error(transparent)]
    Sample(#[from] SampleRejected),
}

impl From<InvalidField> for RenderBreachNoticeError {
    fn from(invalid: InvalidField) -> Self {
        Self::Sample(invalid.into())
    }
}

/// SendTestNotice.
#[derive(Debug, thiserror::Error)]
pub enum SendTestNoticeError {
    /// The incident, the sample member or the address is not valid.
    #[error(transparent)]
    Sample(#[from] SampleRejected),
    /// The SMTP server refused the message for good; its reply.
    #[error("the SMTP server refused the test notice: {0}")]
    Refused(String),
    /// The SMTP server could not be reached or asked to try later.
    #[error("the SMTP server did not take the test notice: {0}")]
    SmtpUnavailable(String),
}

impl From<InvalidField> for SendTestNoticeError {
    fn from(invalid: InvalidField) -> Self {
        Self::Sample(invalid.into())
    }
}

/// The kind of a rejected sample request.
fn sample_kind(rejected: &SampleRejected) -> ErrorKind {
    match rejected {
        SampleRejected::Invalid(_) | SampleRejected::InvalidIncident(_) => {
            ErrorKind::InvalidArgument
        }
        SampleRejected::Internal(_) => ErrorKind::Internal,
    }
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

impl RpcError for RecordDeliveryReportError {
    fn kind(&self) -> ErrorKind {
        match self {
            RecordDeliveryReportError::Invalid(_) => ErrorKind::InvalidArgument,
            RecordDeliveryReportError::NotFound => ErrorKind::NotFound,
            RecordDeliveryReportError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl RpcError for RenderBreachNoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            RenderBreachNoticeError::Sample(rejected) => sample_kind(rejected),
        }
    }
}

impl RpcError for SendTestNoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            SendTestNoticeError::Sample(rejected) => sample_kind(rejected),
            SendTestNoticeError::Refused(_) => ErrorKind::FailedPrecondition,
            SendTestNoticeError::SmtpUnavailable(_) => ErrorKind::Unavailable,
        }
    }
}
