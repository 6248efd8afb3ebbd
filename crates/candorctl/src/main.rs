//! `candorctl`, the operator's command-line tool.
//!
//! Exit codes scripts can rely on: 0 success, 1 the checked thing is not
//! healthy or not complete (or a service rejected a reported incident),
//! 2 a service or RabbitMQ could not be reached, 64 bad usage, 65 invalid
//! input (a notice or CSV file, or a changed re-report of an incident), 75
//! published but not confirmed by every service in time, 77 the operator's
//! credential missing or refused.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use candorctl::commands;

#[derive(Parser, Debug)]
#[command(
    name = "candorctl",
    version,
    about = "Operate Candor, the breach-response platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask a service's standard gRPC health service whether it is SERVING
    /// (used by the docker compose healthchecks).
    Health(commands::health::HealthArgs),
    /// Report a data breach.
    #[command(subcommand)]
    Breach(commands::breach::BreachCommand),
    /// Watch an incident's progress and report on it.
    #[command(subcommand)]
    Incident(commands::incident::IncidentCommand),
    /// Load members into the account service.
    #[command(subcommand)]
    Accounts(commands::accounts::AccountsCommand),
    /// Create demo members for a fresh stack (same path as an import).
    Seed(Box<commands::accounts::seed::SeedArgs>),
    /// Write a development CA and service certificate for the TLS switch
    /// (deploy/compose.tls.yml).
    DevCerts(commands::dev_certs::DevCertsArgs),
    /// Generate the secrets of a compose deployment (tokens per caller, a
    /// database role and broker user per service, the broker's definitions)
    /// into a directory, keeping those already there.
    DevSecrets(commands::dev_secrets::DevSecretsArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    // The platform's rules: `X_FILE` variables, secrets hidden from --help.
    let command = match candor_platform::config::prepare_command(Cli::command(), &|name| {
        std::env::var_os(name)
    }) {
        Ok(command) => command,
        Err(problem) => {
            eprintln!("candorctl: {problem}");
            return ExitCode::from(commands::EXIT_USAGE);
        }
    };
    let parsed = command
        .try_get_matches()
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(commands::EXIT_USAGE),
            };
        }
    };
    match cli.command {
        Command::Health(args) => commands::health::run(args).await,
        Command::Breach(command) => commands::breach::run(command).await,
        Command::Incident(command) => commands::incident::run(command).await,
        Command::Accounts(command) => commands::accounts::run(command).await,
        Command::Seed(args) => commands::accounts::seed::run(*args).await,
        Command::DevCerts(args) => commands::dev_certs::run(args).await,
        Command::DevSecrets(args) => commands::dev_secrets::run(args).await,
    }
}
