//! One look at an incident across every service: each service's
//! `GetIncidentProgress` (and the forum's incident thread), asked at the same
//! time; a service that cannot be answered is named, the others still shown.
//! A service that does not know the incident (NOT_FOUND) answers a progress
//! with `incident_known` false, so every display can say so.

use candor_proto::account::v1 as account;
use candor_proto::forum::v1 as forum;
use candor_proto::membership::v1 as membership;
use candor_proto::notification::v1 as notification;

use crate::endpoints::Endpoints;

/// What every service said about one incident; `Err` holds why a service
/// could not answer.
pub struct IncidentSnapshot {
    /// The incident asked about.
    pub incident_id: String,
    pub account: Result<account::GetIncidentProgressResponse, String>,
    pub notification: Result<notification::GetIncidentProgressResponse, String>,
    pub membership: Result<membership::GetIncidentProgressResponse, String>,
    /// `Ok(None)` while the forum has not opened the thread yet.
    pub forum: Result<Option<forum::Thread>, String>,
}

impl IncidentSnapshot {
    /// Asks all four services at once.
    pub async fn fetch(endpoints: &Endpoints, incident_id: &str) -> Self {
        let (account, notification, membership, forum) = tokio::join!(
            account_progress(endpoints, incident_id),
            notification_progress(endpoints, incident_id),
            membership_progress(endpoints, incident_id),
            forum_thread(endpoints, incident_id),
        );
        Self {
            incident_id: incident_id.to_owned(),
            account,
            notification,
            membership,
            forum,
        }
    }

    /// The services that could not be reached or refused, by name.
    pub fn unreachable(&self) -> Vec<(&'static str, &str)> {
        let mut failed = Vec::new();
        if let Err(error) = &self.account {
            failed.push(("account", error.as_str()));
        }
        if let Err(error) = &self.notification {
            failed.push(("notification", error.as_str()));
        }
        if let Err(error) = &self.membership {
            failed.push(("membership", error.as_str()));
        }
        if let Err(error) = &self.forum {
            failed.push(("forum", error.as_str()));
        }
        failed
    }

    /// Every channel finished: accounts enumerated, every email settled,
    /// every credit granted, the thread open.
    pub fn complete(&self) -> bool {
        matches!(&self.account, Ok(progress) if progress.complete)
            && matches!(&self.notification, Ok(progress) if progress.complete)
            && matches!(&self.membership, Ok(progress) if progress.complete)
            && matches!(&self.forum, Ok(Some(_)))
    }
}

fn describe(status: tonic::Status) -> String {
    crate::errors::describe_status(&status)
}

async fn account_progress(
    endpoints: &Endpoints,
    incident_id: &str,
) -> Result<account::GetIncidentProgressResponse, String> {
    let channel = endpoints
        .operator_channel(&endpoints.account_grpc_url)
        .map_err(|error| crate::errors::describe_anyhow(&error))?;
    channel
        .account()
        .get_incident_progress(account::GetIncidentProgressRequest {
            incident_id: incident_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
        .or_else(|status| {
            not_known(status, || account::GetIncidentProgressResponse {
                incident_id: incident_id.to_owned(),
                ..Default::default()
            })
        })
}

async fn notification_progress(
    endpoints: &Endpoints,
    incident_id: &str,
) -> Result<notification::GetIncidentProgressResponse, String> {
    let channel = endpoints
        .operator_channel(&endpoints.notification_grpc_url)
        .map_err(|error| crate::errors::describe_anyhow(&error))?;
    channel
        .notification()
        .get_incident_progress(notification::GetIncidentProgressRequest {
            incident_id: incident_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
        .or_else(|status| {
            not_known(status, || notification::GetIncidentProgressResponse {
                incident_id: incident_id.to_owned(),
                ..Default::default()
            })
        })
}

async fn membership_progress(
    endpoints: &Endpoints,
    incident_id: &str,
) -> Result<membership::GetIncidentProgressResponse, String> {
    let channel = endpoints
        .operator_channel(&endpoints.membership_grpc_url)
        .map_err(|error| crate::errors::describe_anyhow(&error))?;
    channel
        .membership()
        .get_incident_progress(membership::GetIncidentProgressRequest {
            incident_id: incident_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
        .or_else(|status| {
            not_known(status, || membership::GetIncidentProgressResponse {
                incident_id: incident_id.to_owned(),
                ..Default::default()
            })
        })
}

/// NOT_FOUND (the service has not recorded the incident) as a progress with
/// `incident_known` false; any other status as why the service could not
/// answer.
fn not_known<T>(status: tonic::Status, unknown: impl FnOnce() -> T) -> Result<T, String> {
    if status.code() == tonic::Code::NotFound {
        Ok(unknown())
    } else {
        Err(describe(status))
    }
}

async fn forum_thread(
    endpoints: &Endpoints,
    incident_id: &str,
) -> Result<Option<forum::Thread>, String> {
    let channel = endpoints
        .operator_channel(&endpoints.forum_grpc_url)
        .map_err(|error| crate::errors::describe_anyhow(&error))?;
    let answer = channel
        .forum()
        .get_incident_thread(forum::GetIncidentThreadRequest {
            incident_id: incident_id.to_owned(),
        })
        .await;
    match answer {
        Ok(response) => Ok(response.into_inner().thread),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(describe(status)),
    }
}
