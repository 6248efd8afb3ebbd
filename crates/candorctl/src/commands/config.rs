//! `candorctl config view|get-contexts|use-context`: the settings in effect
//! and where each came from (secrets never shown), the config file's
//! contexts, and switching the current one.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::EXIT_USAGE;
use crate::config_file::{self, ConfigError, ConfigFile};
use crate::endpoints::{ConnectionFlags, Environment, Origin, ShownSetting};
use crate::output::{self, OutputArgs, table};

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// The connection settings in effect, each with where it came from
    /// (flag, environment, context or default); passwords and tokens are
    /// never shown.
    View(OutputArgs),
    /// The config file's contexts, the current one marked `*`.
    GetContexts(OutputArgs),
    /// Make NAME the config file's `current-context`.
    UseContext(UseContextArgs),
}

#[derive(clap::Args, Debug)]
pub struct UseContextArgs {
    /// A context of the config file.
    pub name: String,
}

/// What `config view` prints.
#[derive(Debug, Serialize)]
struct View {
    config_file: Option<String>,
    context: Option<String>,
    settings: Vec<ShownSetting>,
}

/// One row of `config get-contexts`.
#[derive(Debug, Serialize)]
struct ContextRow {
    name: String,
    current: bool,
    account_grpc_url: Option<String>,
    amqp_url: Option<String>,
}

pub fn run(
    command: ConfigCommand,
    connection: &ConnectionFlags,
    origins: &BTreeMap<&'static str, Origin>,
    environment: &Environment,
) -> ExitCode {
    let outcome = match command {
        ConfigCommand::View(output) => view(output, connection, origins, environment),
        ConfigCommand::GetContexts(output) => get_contexts(output, environment),
        ConfigCommand::UseContext(args) => use_context(&args.name, environment),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("candorctl: {error}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn view(
    output: OutputArgs,
    connection: &ConnectionFlags,
    origins: &BTreeMap<&'static str, Origin>,
    environment: &Environment,
) -> Result<(), ConfigError> {
    let resolved = connection.resolve(origins, environment)?;
    let view = View {
        config_file: environment
            .config_path
            .as_ref()
            .map(|path| path.display().to_string()),
        context: resolved.context.map(|(name, _)| name),
        settings: resolved.shown,
    };
    output::emit(output.output, &view, |view| {
        let mut text = format!(
            "config file: {}\ncontext: {}\n\n",
            view.config_file
                .as_deref()
                .unwrap_or("(none: set CANDOR_CONFIG or HOME)"),
            view.context.as_deref().unwrap_or("(none)")
        );
        let rows: Vec<Vec<String>> = view
            .settings
            .iter()
            .map(|setting| {
                vec![
                    setting.setting.replace('_', "-"),
                    setting.value.clone(),
                    format!("{:?}", setting.origin).to_ascii_lowercase(),
                ]
            })
            .collect();
        text.push_str(&table::columns(&["SETTING", "VALUE", "FROM"], &rows));
        text
    });
    Ok(())
}

fn get_contexts(output: OutputArgs, environment: &Environment) -> Result<(), ConfigError> {
    let path = file_path(environment)?;
    let file = ConfigFile::load(path)?;
    let rows: Vec<ContextRow> = file
        .contexts
        .iter()
        .map(|(name, context)| ContextRow {
            name: name.clone(),
            current: file.current_context.as_deref() == Some(name.as_str()),
            account_grpc_url: context.account_grpc_url.clone(),
            amqp_url: context
                .amqp_url
                .as_deref()
                .map(config_file::mask_url_password)
                .or_else(|| {
                    context
                        .amqp_url_file
                        .as_ref()
                        .map(|file| format!("(from {})", file.display()))
                }),
        })
        .collect();
    output::emit(output.output, &rows, |rows| {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                vec![
                    if row.current { "*" } else { "" }.to_owned(),
                    row.name.clone(),
                    row.account_grpc_url
                        .clone()
                        .unwrap_or_else(|| "-".to_owned()),
                    row.amqp_url.clone().unwrap_or_else(|| "-".to_owned()),
                ]
            })
            .collect();
        table::columns(&["CURRENT", "NAME", "ACCOUNT-GRPC-URL", "AMQP-URL"], &cells)
    });
    Ok(())
}

fn use_context(name: &str, environment: &Environment) -> Result<(), ConfigError> {
    let path = file_path(environment)?;
    let problem = |message: String| ConfigError {
        path: path.to_owned(),
        line: None,
        key: None,
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(problem(format!(
                "the file does not exist; write it with a [contexts.{name}] table first"
            )));
        }
        Err(error) => return Err(problem(format!("cannot read: {error}"))),
    };
    let file = ConfigFile::parse(&text, path)?;
    if !file.contexts.contains_key(name) {
        return Err(ConfigError {
            path: path.to_owned(),
            line: None,
            key: Some("contexts".to_owned()),
            message: format!("no context named {name:?} ({})", file.known_contexts()),
        });
    }
    std::fs::write(path, config_file::with_current_context(&text, name))
        .map_err(|error| problem(format!("cannot write: {error}")))?;
    println!("current context is now {name:?}");
    Ok(())
}

fn file_path(environment: &Environment) -> Result<&Path, ConfigError> {
    environment
        .config_path
        .as_deref()
        .ok_or_else(|| ConfigError {
            path: "~/.config/candor/config.toml".into(),
            line: None,
            key: None,
            message: format!("no config file: set {} or HOME", config_file::CONFIG_VAR),
        })
}
