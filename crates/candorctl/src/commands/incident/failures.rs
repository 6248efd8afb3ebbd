//! An incident's failed emails for people: the notification service's
//! groups (class and reason, with counts) and the first failed deliveries
//! with their reasons. Addresses and SMTP replies only; no secret is ever
//! part of a delivery.

use candor_proto::notification::v1::{
    DeliveryState, FailureClass, FailureGroup, GetIncidentProgressResponse, ListDeliveriesRequest,
};
use serde::Serialize;

use crate::endpoints::Endpoints;

/// Failed deliveries `incident status` lists under the groups.
pub const LISTED_IN_STATUS: usize = 10;

/// One failed delivery.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub account_id: String,
    pub to_address: String,
    pub attempts: u32,
    pub reason: String,
}

/// Failed emails sharing a class and reason.
#[derive(Debug, Clone, Serialize)]
pub struct FailureGroupEntry {
    /// `retries_exhausted`, `refused`, `unsendable` (or `unspecified`).
    pub class: String,
    pub reason: String,
    pub count: u64,
    /// Whether `candorctl incident retry-failed` queues these again.
    pub retryable: bool,
}

impl From<&FailureGroup> for FailureGroupEntry {
    fn from(group: &FailureGroup) -> Self {
        Self {
            class: class_name(group.failure_class()).to_owned(),
            reason: group.reason.clone(),
            count: group.count,
            retryable: group.retryable,
        }
    }
}

/// A failure class as people (and the report's JSON) name it.
pub fn class_name(class: FailureClass) -> &'static str {
    match class {
        FailureClass::RetriesExhausted => "retries_exhausted",
        FailureClass::Refused => "refused",
        FailureClass::Unsendable => "unsendable",
        FailureClass::Unspecified => "unspecified",
    }
}

/// The first `limit` failed deliveries of the incident, oldest first.
pub async fn first_failed(
    endpoints: &Endpoints,
    incident_id: &str,
    limit: usize,
) -> anyhow::Result<Vec<Failure>> {
    let mut client = endpoints
        .operator_channel(&endpoints.notification_grpc_url)?
        .notification();
    let mut failures = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_deliveries(ListDeliveriesRequest {
                incident_id: incident_id.to_owned(),
                state: DeliveryState::Failed as i32,
                page_size: u32::try_from(limit.min(1000)).unwrap_or(1000),
                page_token: page_token.clone(),
                ..ListDeliveriesRequest::default()
            })
            .await?
            .into_inner();
        failures.extend(page.deliveries.into_iter().map(|delivery| Failure {
            account_id: delivery.account_id,
            to_address: delivery.to_address,
            attempts: delivery.attempts,
            reason: delivery.last_error,
        }));
        if page.next_page_token.is_empty() || failures.len() >= limit {
            failures.truncate(limit);
            return Ok(failures);
        }
        page_token = page.next_page_token;
    }
}

/// The lines `incident status` prints under the channels when emails
/// failed: a summary, the groups, what to run, the first failures.
pub fn summary_lines(
    incident_id: &str,
    emails: &GetIncidentProgressResponse,
    first: &[Failure],
) -> Vec<String> {
    let mut lines = vec![format!(
        "{} of {} emails failed:",
        emails.failed, emails.expected_total
    )];
    for group in &emails.failure_groups {
        lines.push(format!(
            "  {:>6}  {}{}: {}",
            group.count,
            class_name(group.failure_class()),
            if group.retryable { " (retryable)" } else { "" },
            group.reason
        ));
    }
    let grouped: u64 = emails.failure_groups.iter().map(|group| group.count).sum();
    if grouped < emails.failed {
        lines.push(format!("  {:>6}  other reasons", emails.failed - grouped));
    }
    if emails.failed_retryable > 0 {
        lines.push(format!(
            "{} can be sent again once the cause is fixed: candorctl incident retry-failed {incident_id}",
            emails.failed_retryable
        ));
    }
    if !first.is_empty() {
        lines.push(format!("first {} failed:", first.len()));
        for failure in first {
            lines.push(format!(
                "  {}  {}  {} attempt{}  {}",
                failure.account_id,
                failure.to_address,
                failure.attempts,
                if failure.attempts == 1 { "" } else { "s" },
                failure.reason
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_groups_failures_and_says_what_to_run() {
        let emails = GetIncidentProgressResponse {
            expected_total: 10,
            failed: 4,
            failed_retryable: 2,
            failure_groups: vec![
                FailureGroup {
                    failure_class: FailureClass::RetriesExhausted as i32,
                    reason: "gave up after 2 attempts: connection refused".to_owned(),
                    count: 2,
                    retryable: true,
                },
                FailureGroup {
                    failure_class: FailureClass::Refused as i32,
                    reason: "permanent error (550): no such mailbox".to_owned(),
                    count: 1,
                    retryable: false,
                },
            ],
            ..Default::default()
        };
        let first = [Failure {
            account_id: "a1".to_owned(),
            to_address: "x@example.org".to_owned(),
            attempts: 1,
            reason: "permanent error (550): no such mailbox".to_owned(),
        }];
        let lines = summary_lines("inc", &emails, &first);
        assert_eq!(
            lines,
            [
                "4 of 10 emails failed:",
                "       2  retries_exhausted (retryable): gave up after 2 attempts: connection refused",
                "       1  refused: permanent error (550): no such mailbox",
                "       1  other reasons",
                "2 can be sent again once the cause is fixed: candorctl incident retry-failed inc",
                "first 1 failed:",
                "  a1  x@example.org  1 attempt  permanent error (550): no such mailbox",
            ]
        );
    }
}
