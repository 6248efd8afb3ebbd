//! `candorctl incident …`: list incidents, watch one, report on it, and
//! retry its failed emails.

pub mod failures;
pub mod list;
pub mod outcome;
pub mod outcomes_csv;
pub mod progress;
pub mod regulator;
pub mod report;
pub mod retry_failed;
pub mod status;

use std::process::ExitCode;

use crate::endpoints::Endpoints;

#[derive(clap::Subcommand, Debug)]
pub enum IncidentCommand {
    /// The recorded incidents, newest first: id, recording time, affected
    /// accounts, enumeration state, title.
    List(Box<list::ListArgs>),
    /// One line per channel (accounts, emails, credits, forum thread);
    /// exit 0 when every channel is complete, 1 while not, when the emails
    /// finished with failures (listed) or the incident is not known, 2 when
    /// a service cannot be reached.
    Status(Box<status::StatusArgs>),
    /// A report for regulators: the incident, its outcome, a timeline,
    /// counts per channel, failures with reasons, the thread URL; exit codes
    /// as `status`.
    Report(Box<report::ReportArgs>),
    /// Queue again the incident's emails that failed for a passing cause
    /// (SMTP server unreachable or busy until the retries ran out); those
    /// the server refused stay failed and are counted.
    RetryFailed(Box<retry_failed::RetryFailedArgs>),
}

pub async fn run(command: IncidentCommand, endpoints: &Endpoints) -> ExitCode {
    match command {
        IncidentCommand::List(args) => list::run(*args, endpoints).await,
        IncidentCommand::Status(args) => status::run(*args, endpoints).await,
        IncidentCommand::Report(args) => report::run(*args, endpoints).await,
        IncidentCommand::RetryFailed(args) => retry_failed::run(*args, endpoints).await,
    }
}
