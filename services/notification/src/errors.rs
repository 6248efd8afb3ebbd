//! What can go wrong in each notification RPC, named in the RPC's own
//! terms, which of the platform's error kinds each case is
//! (`candor_platform::grpc::ErrorKind`, mapped to a status in one place),
//! and the stable reason a caller matches on (the tables in
//! `proto/candor/notification/v1/notification.proto`).

use candor_platform::grpc::{ErrorKind, InvalidField, Reason, RpcError};
use uuid::Uuid;

/// SendEmail's `idempotency_key` was used before for a different request.
pub const IDEMPOTENCY_KEY_REUSED: Reason = Reason::new("IDEMPOTENCY_KEY_REUSED");
/// No delivery matches what the request names (its id, or its message id
/// and recipient).
pub const DELIVERY_NOT_FOUND: Reason = Reason::new("DELIVERY_NOT_FOUND");
/// The SMTP server refused a message for good (a 5xx reply).
pub const SMTP_REFUSED: Reason = Reason::new("SMTP_REFUSED");

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
    /// The incident breaks the event's rules: the field is `incident`, and
    /// the message lists each rule broken ("incident.title: …;
    /// incident.summary: …"), as the event's validation names them.
    #[error("{}", .0.reason)]
    InvalidIncident(InvalidField),
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

impl RpcError for SampleRejected {
    fn kind(&self) -> ErrorKind {
        match self {
            SampleRejected::Invalid(_) | SampleRejected::InvalidIncident(_) => {
                ErrorKind::InvalidArgument
            }
            SampleRejected::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            SampleRejected::Invalid(_) | SampleRejected::InvalidIncident(_) => {
                Reason::INVALID_FIELD
            }
            SampleRejected::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            SampleRejected::Invalid(field) | SampleRejected::InvalidIncident(field) => Some(field),
            SampleRejected::Internal(_) => None,
        }
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

    fn reason(&self) -> Reason {
        match self {
            SendEmailError::Invalid(_) => Reason::INVALID_FIELD,
            SendEmailError::KeyReused => IDEMPOTENCY_KEY_REUSED,
            SendEmailError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            SendEmailError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            GetDeliveryError::Invalid(_) => Reason::INVALID_FIELD,
            GetDeliveryError::NotFound(_) => DELIVERY_NOT_FOUND,
            GetDeliveryError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetDeliveryError::Invalid(field) => Some(field),
            _ => None,
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

    fn reason(&self) -> Reason {
        match self {
            RecordDeliveryReportError::Invalid(_) => Reason::INVALID_FIELD,
            RecordDeliveryReportError::NotFound => DELIVERY_NOT_FOUND,
            RecordDeliveryReportError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            RecordDeliveryReportError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

impl RpcError for RenderBreachNoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            RenderBreachNoticeError::Sample(rejected) => rejected.kind(),
        }
    }

    fn reason(&self) -> Reason {
        match self {
            RenderBreachNoticeError::Sample(rejected) => rejected.reason(),
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            RenderBreachNoticeError::Sample(rejected) => rejected.invalid_field(),
        }
    }
}

impl RpcError for SendTestNoticeError {
    fn kind(&self) -> ErrorKind {
        match self {
            SendTestNoticeError::Sample(rejected) => rejected.kind(),
            SendTestNoticeError::Refused(_) => ErrorKind::FailedPrecondition,
            SendTestNoticeError::SmtpUnavailable(_) => ErrorKind::Unavailable,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            SendTestNoticeError::Sample(rejected) => rejected.reason(),
            SendTestNoticeError::Refused(_) => SMTP_REFUSED,
            SendTestNoticeError::SmtpUnavailable(_) => Reason::DEPENDENCY_UNAVAILABLE,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            SendTestNoticeError::Sample(rejected) => rejected.invalid_field(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use candor_platform::grpc::error_kind::check_errors_documented;
    use candor_platform::grpc::{IncidentLookupError, InputOrInternal};

    use super::*;

    const SERVICE: &str = "candor.notification.v1.NotificationService";

    fn invalid() -> InvalidField {
        InvalidField::new("incident_id", "required")
    }

    fn internal() -> anyhow::Error {
        anyhow::anyhow!("x")
    }

    fn incident_lookups() -> Vec<Box<dyn RpcError>> {
        vec![
            Box::new(IncidentLookupError::Invalid(invalid())),
            Box::new(IncidentLookupError::IncidentNotFound(
                "incident-1".to_owned(),
            )),
            Box::new(IncidentLookupError::Internal(internal())),
        ]
    }

    fn sample_rejections() -> Vec<SampleRejected> {
        vec![
            SampleRejected::Invalid(invalid()),
            SampleRejected::InvalidIncident(InvalidField::new(
                "incident",
                "incident.title: required",
            )),
            SampleRejected::Internal(internal()),
        ]
    }

    /// Every case of every RPC's error, by RPC.
    fn every_error() -> Vec<(&'static str, Box<dyn RpcError>)> {
        let mut errors: Vec<(&'static str, Box<dyn RpcError>)> = vec![
            ("SendEmail", Box::new(SendEmailError::Invalid(invalid()))),
            ("SendEmail", Box::new(SendEmailError::KeyReused)),
            ("SendEmail", Box::new(SendEmailError::Internal(internal()))),
            (
                "GetDelivery",
                Box::new(GetDeliveryError::Invalid(invalid())),
            ),
            (
                "GetDelivery",
                Box::new(GetDeliveryError::NotFound(Uuid::nil())),
            ),
            (
                "GetDelivery",
                Box::new(GetDeliveryError::Internal(internal())),
            ),
            (
                "ListDeliveries",
                Box::new(InputOrInternal::Invalid(invalid())),
            ),
            (
                "ListDeliveries",
                Box::new(InputOrInternal::Internal(internal())),
            ),
            (
                "RecordDeliveryReport",
                Box::new(RecordDeliveryReportError::Invalid(invalid())),
            ),
            (
                "RecordDeliveryReport",
                Box::new(RecordDeliveryReportError::NotFound),
            ),
            (
                "RecordDeliveryReport",
                Box::new(RecordDeliveryReportError::Internal(internal())),
            ),
            (
                "SendTestNotice",
                Box::new(SendTestNoticeError::Refused("550 no".to_owned())),
            ),
            (
                "SendTestNotice",
                Box::new(SendTestNoticeError::SmtpUnavailable(
                    "connection refused".to_owned(),
                )),
            ),
        ];
        for rpc in ["GetIncidentProgress", "RetryFailedNotices"] {
            errors.extend(incident_lookups().into_iter().map(|error| (rpc, error)));
        }
        for rejected in sample_rejections() {
            errors.push((
                "RenderBreachNotice",
                Box::new(RenderBreachNoticeError::Sample(rejected)),
            ));
        }
        for rejected in sample_rejections() {
            errors.push((
                "SendTestNotice",
                Box::new(SendTestNoticeError::Sample(rejected)),
            ));
        }
        errors
    }

    #[test]
    fn every_error_is_documented_for_its_rpc() {
        if let Err(undocumented) = check_errors_documented(SERVICE, every_error()) {
            panic!("{undocumented}");
        }
    }

    #[test]
    fn invalid_input_names_its_field_and_a_broken_incident_names_incident() {
        let error = SendTestNoticeError::from(SampleRejected::InvalidIncident(InvalidField::new(
            "incident",
            "incident.title: required; incident.summary: required",
        )));
        assert_eq!(
            error.to_string(),
            "incident.title: required; incident.summary: required"
        );
        assert_eq!(
            error.invalid_field().map(|field| field.field),
            Some("incident")
        );
        let error = RenderBreachNoticeError::from(InvalidField::new("display_name", "too long"));
        assert_eq!(
            error.invalid_field().map(|field| field.field),
            Some("display_name")
        );
        assert!(SendEmailError::KeyReused.invalid_field().is_none());
    }
}
