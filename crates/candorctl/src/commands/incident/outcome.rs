//! Where an incident stands across every channel, as one verdict: complete
//! (every channel finished and every email delivered or suppressed on
//! purpose), finished with failures (nothing more will happen without an
//! operator, and some emails failed), in progress, not known to some
//! service, or unknown because a service could not be asked. The exit
//! codes of `incident status` and `incident report` follow from it.

use std::process::ExitCode;

use super::progress::IncidentSnapshot;
use crate::commands::{EXIT_NOT_OK, EXIT_UNREACHABLE};

/// The verdict on one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every channel finished; every email delivered or suppressed.
    Complete,
    /// Every channel finished, but emails failed: never "complete".
    FinishedWithFailures,
    /// Some channel is still working.
    InProgress,
    /// These services have not recorded the incident (not reported, not
    /// processed yet, or rejected).
    NotKnown(Vec<&'static str>),
    /// These services could not be asked.
    Unreachable(Vec<&'static str>),
}

impl Outcome {
    /// The verdict on `snapshot`.
    pub fn of(snapshot: &IncidentSnapshot) -> Self {
        let unreachable: Vec<&'static str> = snapshot
            .unreachable()
            .into_iter()
            .map(|(service, _)| service)
            .collect();
        if !unreachable.is_empty() {
            return Self::Unreachable(unreachable);
        }
        let not_known = not_known_to(snapshot);
        if !not_known.is_empty() {
            return Self::NotKnown(not_known);
        }
        if snapshot.complete() {
            return Self::Complete;
        }
        if settled(snapshot) {
            return Self::FinishedWithFailures;
        }
        Self::InProgress
    }

    /// Whether nothing more will happen without an operator.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Complete | Self::FinishedWithFailures)
    }

    /// 0 complete, 1 anything short of it, 2 a service could not be asked.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Complete => ExitCode::SUCCESS,
            Self::Unreachable(_) => ExitCode::from(EXIT_UNREACHABLE),
            Self::FinishedWithFailures | Self::InProgress | Self::NotKnown(_) => {
                ExitCode::from(EXIT_NOT_OK)
            }
        }
    }

    /// The verdict's name in JSON: `complete`, `finished_with_failures`,
    /// `in_progress`, `not_known` or `unreachable`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::FinishedWithFailures => "finished_with_failures",
            Self::InProgress => "in_progress",
            Self::NotKnown(_) => "not_known",
            Self::Unreachable(_) => "unreachable",
        }
    }

    /// One line for people, e.g. "incident X finished with failures".
    pub fn describe(&self, incident_id: &str) -> String {
        match self {
            Self::Complete => format!("incident {incident_id} is complete"),
            Self::FinishedWithFailures => format!("incident {incident_id} finished with failures"),
            Self::InProgress => format!("incident {incident_id} is in progress"),
            Self::NotKnown(services) => {
                format!(
                    "incident {incident_id} is not known to {}",
                    services.join(", ")
                )
            }
            Self::Unreachable(services) => format!(
                "incident {incident_id}: cannot tell, {} could not be asked",
                services.join(", ")
            ),
        }
    }
}

/// The services that answered but have not recorded the incident (for the
/// forum: opened no thread, which it does when it records the incident).
pub fn not_known_to(snapshot: &IncidentSnapshot) -> Vec<&'static str> {
    let mut services = Vec::new();
    if matches!(&snapshot.account, Ok(progress) if !progress.incident_known) {
        services.push("account");
    }
    if matches!(&snapshot.notification, Ok(progress) if !progress.incident_known) {
        services.push("notification");
    }
    if matches!(&snapshot.membership, Ok(progress) if !progress.incident_known) {
        services.push("membership");
    }
    if matches!(&snapshot.forum, Ok(None)) {
        services.push("forum");
    }
    services
}

/// Every channel finished, the emails perhaps with failures.
fn settled(snapshot: &IncidentSnapshot) -> bool {
    matches!(&snapshot.account, Ok(progress) if progress.complete)
        && matches!(&snapshot.notification, Ok(progress) if progress.settled)
        && matches!(&snapshot.membership, Ok(progress) if progress.complete)
        && matches!(&snapshot.forum, Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use candor_proto::account::v1 as account;
    use candor_proto::forum::v1 as forum;
    use candor_proto::membership::v1 as membership;
    use candor_proto::notification::v1 as notification;

    use super::*;

    fn finished(sent: u64, failed: u64) -> IncidentSnapshot {
        IncidentSnapshot {
            incident_id: "x".to_owned(),
            account: Ok(account::GetIncidentProgressResponse {
                incident_known: true,
                complete: true,
                ..Default::default()
            }),
            notification: Ok(notification::GetIncidentProgressResponse {
                incident_known: true,
                sent,
                failed,
                settled: true,
                complete: failed == 0,
                ..Default::default()
            }),
            membership: Ok(membership::GetIncidentProgressResponse {
                incident_known: true,
                complete: true,
                ..Default::default()
            }),
            forum: Ok(Some(forum::Thread::default())),
        }
    }

    #[test]
    fn failures_are_never_complete() {
        assert_eq!(Outcome::of(&finished(3, 0)), Outcome::Complete);
        let failed = Outcome::of(&finished(2, 1));
        assert_eq!(failed, Outcome::FinishedWithFailures);
        assert!(failed.is_final());
        assert_eq!(failed.exit_code(), ExitCode::from(EXIT_NOT_OK));
    }

    #[test]
    fn services_not_knowing_the_incident_are_named() {
        let mut snapshot = finished(3, 0);
        snapshot.notification = Ok(notification::GetIncidentProgressResponse::default());
        snapshot.forum = Ok(None);
        let outcome = Outcome::of(&snapshot);
        assert_eq!(outcome, Outcome::NotKnown(vec!["notification", "forum"]));
        assert_eq!(
            outcome.describe("x"),
            "incident x is not known to notification, forum"
        );
        snapshot.account = Err("Unavailable: down".to_owned());
        assert_eq!(
            Outcome::of(&snapshot),
            Outcome::Unreachable(vec!["account"])
        );
    }
}
