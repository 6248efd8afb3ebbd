//! `candorctl incident retry-failed ID`: once the cause is fixed (the SMTP
//! server back, a quota raised), the incident's emails that failed for a
//! passing cause are queued again; those the server refused stay failed
//! and are counted.

use std::process::ExitCode;

use candor_proto::notification::v1::RetryFailedNoticesRequest;

use crate::commands::{EXIT_NOT_OK, EXIT_UNREACHABLE};
use crate::endpoints::Endpoints;

#[derive(clap::Args, Debug)]
pub struct RetryFailedArgs {
    /// The incident id, as reported.
    pub incident_id: String,
}

pub async fn run(args: RetryFailedArgs, endpoints: &Endpoints) -> ExitCode {
    let channel = match endpoints.operator_channel(&endpoints.notification_grpc_url) {
        Ok(channel) => channel,
        Err(error) => {
            eprintln!("candorctl: {}", crate::errors::describe_anyhow(&error));
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    let answer = channel
        .notification()
        .retry_failed_notices(RetryFailedNoticesRequest {
            incident_id: args.incident_id.clone(),
        })
        .await;
    match answer {
        Ok(response) => {
            let response = response.into_inner();
            for line in summary(&args.incident_id, &response) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(status) if status.code() == tonic::Code::NotFound => {
            eprintln!(
                "candorctl: incident {} is not known to notification",
                args.incident_id
            );
            ExitCode::from(EXIT_NOT_OK)
        }
        Err(status) => {
            eprintln!(
                "candorctl: notification could not retry the failed emails: {}",
                status.message()
            );
            ExitCode::from(EXIT_UNREACHABLE)
        }
    }
}

/// What was queued again and what stays failed, and how to follow it.
fn summary(
    incident_id: &str,
    response: &candor_proto::notification::v1::RetryFailedNoticesResponse,
) -> Vec<String> {
    let mut lines = vec![format!(
        "{} failed emails of incident {incident_id} queued again",
        response.requeued
    )];
    for (count, why) in [
        (
            response.not_retryable_refused,
            "refused by the SMTP server (address suppressed)",
        ),
        (
            response.not_retryable_unsendable,
            "could not be built or sent at all",
        ),
        (
            response.not_retryable_deactivated,
            "member deactivated since (address erased)",
        ),
    ] {
        if count > 0 {
            lines.push(format!("{count} stay failed: {why}"));
        }
    }
    if response.requeued > 0 {
        lines.push(format!(
            "follow them: candorctl incident status {incident_id} --watch"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use candor_proto::notification::v1::RetryFailedNoticesResponse;

    use super::*;

    #[test]
    fn the_summary_counts_what_stays_failed() {
        let lines = summary(
            "inc",
            &RetryFailedNoticesResponse {
                incident_id: "inc".to_owned(),
                requeued: 2,
                not_retryable_refused: 1,
                not_retryable_unsendable: 0,
                not_retryable_deactivated: 0,
            },
        );
        assert_eq!(
            lines,
            [
                "2 failed emails of incident inc queued again",
                "1 stay failed: refused by the SMTP server (address suppressed)",
                "follow them: candorctl incident status inc --watch",
            ]
        );
    }
}
