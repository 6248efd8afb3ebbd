//! Operators' incident RPCs: ImportAccounts, CountAffectedAccounts, GetIncident, ListAffectedAccounts, GetIncidentProgress, ListIncidents.

// The reasons, the session errors and the platform's error vocabulary
// (imported by the parent module).
use super::*;

/// ImportAccounts.
#[derive(Debug, thiserror::Error)]
pub enum ImportAccountsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("the import stream was interrupted")]
    StreamBroken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ImportAccountsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ImportAccountsError::Invalid(_) => ErrorKind::InvalidArgument,
            ImportAccountsError::StreamBroken => ErrorKind::Cancelled,
            ImportAccountsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ImportAccountsError::Invalid(_) => Reason::INVALID_FIELD,
            ImportAccountsError::StreamBroken => Reason::CALL_CANCELLED,
            ImportAccountsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ImportAccountsError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// CountAffectedAccounts.
pub type CountAffectedAccountsError = candor_platform::grpc::InputOrInternal;

/// GetIncident.
#[derive(Debug, thiserror::Error)]
pub enum GetIncidentError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident is not recorded")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for GetIncidentError {
    fn kind(&self) -> ErrorKind {
        match self {
            GetIncidentError::Invalid(_) => ErrorKind::InvalidArgument,
            GetIncidentError::NotFound => ErrorKind::NotFound,
            GetIncidentError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            GetIncidentError::Invalid(_) => Reason::INVALID_FIELD,
            GetIncidentError::NotFound => Reason::INCIDENT_NOT_FOUND,
            GetIncidentError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            GetIncidentError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// ListAffectedAccounts.
#[derive(Debug, thiserror::Error)]
pub enum ListAffectedAccountsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("incident is not recorded")]
    IncidentNotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ListAffectedAccountsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListAffectedAccountsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListAffectedAccountsError::IncidentNotFound => ErrorKind::NotFound,
            ListAffectedAccountsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListAffectedAccountsError::Invalid(_) => Reason::INVALID_FIELD,
            ListAffectedAccountsError::IncidentNotFound => Reason::INCIDENT_NOT_FOUND,
            ListAffectedAccountsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListAffectedAccountsError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}

/// GetIncidentProgress.
pub type GetIncidentProgressError = candor_platform::grpc::IncidentLookupError;

/// ListIncidents.
#[derive(Debug, thiserror::Error)]
pub enum ListIncidentsError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for ListIncidentsError {
    fn kind(&self) -> ErrorKind {
        match self {
            ListIncidentsError::Invalid(_) => ErrorKind::InvalidArgument,
            ListIncidentsError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            ListIncidentsError::Invalid(_) => Reason::INVALID_FIELD,
            ListIncidentsError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }

    fn invalid_field(&self) -> Option<&InvalidField> {
        match self {
            ListIncidentsError::Invalid(field) => Some(field),
            _ => None,
        }
    }
}
