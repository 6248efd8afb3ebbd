//! `candorctl`, the operator's command-line tool.
//!
//! Exit codes scripts can rely on: 0 success, 1 the checked thing is not
//! healthy or not complete (or a service rejected a reported incident),
//! 2 a service or RabbitMQ could not be reached, 64 bad usage, 65 invalid
//! input (a notice or CSV file, or a changed re-report of an incident), 75
//! published but not confirmed by every service in time, 77 the operator's
//! credential missing or refused.

use std::process::ExitCode;

use std::collections::BTreeMap;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use candorctl::commands;
use candorctl::endpoints::{ConnectionFlags, Endpoints, Environment, Origin, SETTING_IDS};

#[derive(Parser, Debug)]
#[command(
    name = "candorctl",
    version,
    about = "Operate Candor, the breach-response platform"
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Connecting(ConnectingCommand),
    #[command(flatten)]
    Local(LocalCommand),
}

/// Commands that talk to Candor, with the connection settings resolved.
#[derive(Subcommand, Debug)]
enum ConnectingCommand {
    /// Ask every service's standard gRPC health service whether it is
    /// SERVING, or one address's (used by the docker compose healthchecks).
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
    /// List, inspect, replay or purge the messages Candor's services
    /// dead-lettered.
    #[command(subcommand)]
    DeadLetters(commands::dead_letters::DeadLettersCommand),
}

/// Commands that work on local files only.
#[derive(Subcommand, Debug)]
enum LocalCommand {
    /// Write a development CA and service certificate for the TLS switch
    /// (deploy/compose.tls.yml).
    DevCerts(commands::dev_certs::DevCertsArgs),
    /// Generate the secrets of a compose deployment (tokens per caller, a
    /// database role and broker user per service, the broker's definitions)
    /// into a directory, keeping those already there.
    DevSecrets(commands::dev_secrets::DevSecretsArgs),
    /// Show the connection settings in effect and manage the config file's
    /// contexts (`~/.config/candor/config.toml`, or `CANDOR_CONFIG`).
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
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
    let parsed = command.try_get_matches();
    let parsed = parsed.and_then(|mut matches| {
        let origins = origins(&matches);
        Cli::from_arg_matches_mut(&mut matches).map(|cli| (cli, origins))
    });
    let (cli, origins) = match parsed {
        Ok(parsed) => parsed,
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
    let environment = Environment::from_process();
    let command = match cli.command {
        Command::Local(LocalCommand::DevCerts(args)) => {
            return commands::dev_certs::run(args).await;
        }
        Command::Local(LocalCommand::DevSecrets(args)) => {
            return commands::dev_secrets::run(args).await;
        }
        Command::Local(LocalCommand::Config(command)) => {
            return commands::config::run(command, &cli.connection, &origins, &environment);
        }
        Command::Connecting(command) => command,
    };
    // Only the commands that connect need (and may fail on) the config file.
    let endpoints = match cli.connection.resolve(&origins, &environment) {
        Ok(resolved) => resolved.endpoints,
        Err(error) => {
            eprintln!("candorctl: {error}");
            return ExitCode::from(commands::EXIT_USAGE);
        }
    };
    run(command, &endpoints).await
}

async fn run(command: ConnectingCommand, endpoints: &Endpoints) -> ExitCode {
    use ConnectingCommand as C;
    match command {
        C::Health(args) => commands::health::run(args, endpoints).await,
        C::Breach(command) => commands::breach::run(command, endpoints).await,
        C::Incident(command) => commands::incident::run(command, endpoints).await,
        C::Accounts(command) => commands::accounts::run(command, endpoints).await,
        C::Seed(args) => commands::accounts::seed::run(*args, endpoints).await,
        C::DeadLetters(command) => commands::dead_letters::run(command, endpoints).await,
    }
}

/// Whether each connection setting clap found came from its flag or its
/// environment variable (a value read from `X_FILE` arrives as a default).
fn origins(matches: &ArgMatches) -> BTreeMap<&'static str, Origin> {
    SETTING_IDS
        .into_iter()
        .filter_map(|id| {
            let origin = match matches.value_source(id)? {
                ValueSource::CommandLine => Origin::Flag,
                _ => Origin::Environment,
            };
            Some((id, origin))
        })
        .collect()
}
