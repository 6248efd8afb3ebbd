//! `candorctl incident …`: watch an incident and report on it.

pub mod progress;
pub mod report;
pub mod status;

use std::process::ExitCode;

use crate::endpoints::Endpoints;

#[derive(clap::Subcommand, Debug)]
pub enum IncidentCommand {
    /// One line per channel (accounts, emails, credits, forum thread);
    /// exit 0 when every channel is complete, 1 while not, 2 when a service
    /// cannot be reached.
    Status(Box<status::StatusArgs>),
    /// A report for regulators: the incident, a timeline, counts per
    /// channel, failures with reasons, the thread URL.
    Report(Box<report::ReportArgs>),
}

pub async fn run(command: IncidentCommand, endpoints: &Endpoints) -> ExitCode {
    match command {
        IncidentCommand::Status(args) => status::run(*args, endpoints).await,
        IncidentCommand::Report(args) => report::run(*args, endpoints).await,
    }
}
