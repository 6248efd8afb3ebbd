//! What each service knows of one incident: the account service returns
//! the incident as recorded (and, being operator-only, checks the
//! operator's credential); notification and membership say whether they
//! recorded it; the forum whether the incident's thread is open. "Not
//! recorded" is an answer, not an error, whether a service says so with
//! NOT_FOUND or with `incident_known` false.

use candor_platform::messaging::ServiceQueue;
use candor_proto::account::v1::GetIncidentRequest;
use candor_proto::events::v1::BreachReported;
use candor_proto::forum::v1::GetIncidentThreadRequest;
use candor_proto::membership::v1 as membership;
use candor_proto::notification::v1 as notification;
use tonic::{Code, Status};

use crate::endpoints::Endpoints;
use crate::errors;

/// Why a service gave no answer.
#[derive(Debug, Clone)]
pub enum NoAnswer {
    /// The service refused the operator's credential (UNAUTHENTICATED or
    /// PERMISSION_DENIED).
    Refused(Status),
    /// The service could not be reached, or failed.
    Failed(String),
}

impl NoAnswer {
    fn from_status(status: Status) -> Self {
        match status.code() {
            Code::Unauthenticated | Code::PermissionDenied => Self::Refused(status),
            _ => Self::Failed(errors::describe_status(&status)),
        }
    }
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(status) => formatter.write_str(&errors::describe_status(status)),
            Self::Failed(reason) => formatter.write_str(reason),
        }
    }
}

/// The incident as the account service recorded it, `None` when it has not.
pub async fn account_incident(
    endpoints: &Endpoints,
    incident_id: &str,
) -> Result<Option<BreachReported>, NoAnswer> {
    let channel = endpoints
        .operator_channel(&endpoints.account_grpc_url)
        .map_err(|error| NoAnswer::Failed(errors::describe_anyhow(&error)))?;
    let answer = channel
        .account()
        .get_incident(GetIncidentRequest {
            incident_id: incident_id.to_owned(),
        })
        .await;
    match answer {
        Ok(response) => Ok(response.into_inner().incident),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(NoAnswer::from_status(status)),
    }
}

/// Whether `service` has recorded the incident.
pub async fn recorded(
    endpoints: &Endpoints,
    service: ServiceQueue,
    incident_id: &str,
) -> Result<bool, NoAnswer> {
    let channel = |url: &str| {
        endpoints
            .operator_channel(url)
            .map_err(|error| NoAnswer::Failed(errors::describe_anyhow(&error)))
    };
    let incident_id = incident_id.to_owned();
    let answer = match service {
        ServiceQueue::Account => {
            return account_incident(endpoints, &incident_id)
                .await
                .map(|incident| incident.is_some());
        }
        ServiceQueue::Notification => channel(&endpoints.notification_grpc_url)?
            .notification()
            .get_incident_progress(notification::GetIncidentProgressRequest { incident_id })
            .await
            .map(|response| response.into_inner().incident_known),
        ServiceQueue::Membership => channel(&endpoints.membership_grpc_url)?
            .membership()
            .get_incident_progress(membership::GetIncidentProgressRequest { incident_id })
            .await
            .map(|response| response.into_inner().incident_known),
        ServiceQueue::Forum => channel(&endpoints.forum_grpc_url)?
            .forum()
            .get_incident_thread(GetIncidentThreadRequest { incident_id })
            .await
            .map(|response| response.into_inner().thread.is_some()),
    };
    match answer {
        Ok(known) => Ok(known),
        Err(status) if status.code() == Code::NotFound => Ok(false),
        Err(status) => Err(NoAnswer::from_status(status)),
    }
}
