//! Typed configuration shared by every service.
//!
//! Every setting is a command-line flag with an environment variable of the
//! same meaning. Services flatten the groups they need into their own clap
//! `Parser` and call [`parse_or_exit`], which turns any problem into one line
//! naming the setting and exits non-zero before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{Caller, CallerTokens};

/// Exit status for a configuration error (`EX_USAGE` from sysexits.h).
pub const EXIT_CONFIG_ERROR: i32 = 64;

/// PostgreSQL settings.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseConfig {
    /// PostgreSQL connection URL of this service's own database.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_postgres_url)]
    pub database_url: SecretString,

    /// Largest number of pooled PostgreSQL connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// Seconds to wait for a pooled connection before failing the request.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub database_acquire_timeout_seconds: u64,
}

impl DatabaseConfig {
    /// A configuration for tests and tools that already hold a URL.
    pub fn from_url(database_url: &str) -> Self {
        Self {
            database_url: SecretString::from(database_url),
            database_max_connections: 10,
            database_acquire_timeout_seconds: 10,
        }
    }
}

/// Which RabbitMQ queue type the service declares.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// Replicated, durable, with a delivery limit (RabbitMQ 3.10+). The default.
    #[default]
    Quorum,
    /// Classic mirrored-or-not queues, for single-node brokers that prefer them.
    Classic,
}

/// RabbitMQ settings.
#[derive(clap::Args, Debug, Clone)]
pub struct AmqpConfig {
    /// AMQP 0-9-1 URL of the broker, including the virtual host
    /// (`amqp://user:password@host:5672/%2f`); for a cluster, the URL of
    /// each node separated by commas (same user and virtual host): the
    /// service connects to the first that answers and moves to the next
    /// when its node goes away.
    #[arg(long, env = "AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", value_parser = parse_amqp_url)]
    pub amqp_url: SecretString,

    /// Prefix of every exchange and queue name (`<namespace>.events`,
    /// `<namespace>.dlx`, `<namespace>.<service>`); lets several deployments
    /// or tests share one virtual host.
    #[arg(long, env = "AMQP_NAMESPACE", default_value = "candor", value_parser = parse_amqp_namespace)]
    pub amqp_namespace: String,

    /// Type of the queues this service declares.
    #[arg(long, env = "AMQP_QUEUE_TYPE", value_enum, default_value_t = QueueType::Quorum)]
    pub amqp_queue_type: QueueType,

    /// Unacknowledged messages the broker may push to each consumer.
    #[arg(long, env = "AMQP_PREFETCH", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub amqp_prefetch: u16,

    /// Deliveries of one message after which a quorum queue dead-letters it
    /// (guards against a message that crashes the process every time).
    #[arg(long, env = "AMQP_DELIVERY_LIMIT", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub amqp_delivery_limit: u32,

    /// Attempts a handler gets for one delivery when it fails transiently,
    /// before the message is dead-lettered.
    #[arg(long, env = "AMQP_HANDLER_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub amqp_handler_attempts: u32,

    /// Which exchanges and queues this service declares at start: `all` (the
    /// whole topology; needs a user allowed to configure everything, as
    /// `guest` in development) or `own` (only its own queues and bindings,
    /// checking that the exchanges exist; for the per-service users of the
    /// generated broker definitions, which create everything else).
    #[arg(long, env = "AMQP_DECLARE_TOPOLOGY", value_enum, default_value_t = DeclareTopology::All)]
    pub amqp_declare_topology: DeclareTopology,

    /// The RabbitMQ user account's events must come from (`user_id`):
    /// `breach.accounts_affected`, `breach.enumeration_completed`,
    /// `account.deactivated`.
    #[arg(long, env = "AMQP_ACCOUNT_USER", default_value = "candor-account", value_parser = parse_amqp_user)]
    pub amqp_account_user: String,

    /// The RabbitMQ user forum's events must come from
    /// (`forum.incident_thread_opened`).
    #[arg(long, env = "AMQP_FORUM_USER", default_value = "candor-forum", value_parser = parse_amqp_user)]
    pub amqp_forum_user: String,

    /// The RabbitMQ user notification's events must come from
    /// (`notification.notice_undelivered`).
    #[arg(long, env = "AMQP_NOTIFICATION_USER", default_value = "candor-notification", value_parser = parse_amqp_user)]
    pub amqp_notification_user: String,

    /// The RabbitMQ users (comma-separated) `breach.reported` may come from.
    #[arg(long, env = "AMQP_OPERATOR_USERS", default_value = "candor-operator", value_delimiter = ',', value_parser = parse_amqp_user)]
    pub amqp_operator_users: Vec<String>,
}

/// How much of the RabbitMQ topology a service declares at start.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeclareTopology {
    /// Both exchanges and every service's queues (development, tests).
    #[default]
    All,
    /// Only this service's own queues and bindings; the exchanges must exist.
    Own,
}

impl AmqpConfig {
    /// A configuration for tests and tools that already hold a URL and namespace.
    pub fn new(amqp_url: &str, namespace: &str) -> Self {
        Self {
            amqp_url: SecretString::from(amqp_url),
            amqp_namespace: namespace.to_owned(),
            amqp_queue_type: QueueType::Quorum,
            amqp_prefetch: 256,
            amqp_delivery_limit: 20,
            amqp_handler_attempts: 5,
            amqp_declare_topology: DeclareTopology::All,
            amqp_account_user: "candor-account".to_owned(),
            amqp_forum_user: "candor-forum".to_owned(),
            amqp_notification_user: "candor-notification".to_owned(),
            amqp_operator_users: vec!["candor-operator".to_owned()],
        }
    }
}

/// Log output format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging and tracing settings.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TelemetryConfig {
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in `tracing` EnvFilter syntax (`info`, `candor_account=debug,info`).
    #[arg(long = "log-filter", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// OTLP/gRPC endpoint traces are exported to (`http://jaeger:4317`);
    /// no export when unset.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_http_url)]
    pub otel_exporter_otlp_endpoint: Option<String>,
}

/// Who may call this service, and what it presents when it calls others
/// (see [`crate::auth`] and the README's permission table).
#[derive(clap::Args, Debug, Clone)]
pub struct AuthConfig {
    /// Bearer token operators present for admin RPCs (at least 16 characters).
    #[arg(long, env = "OPERATOR_TOKEN", value_parser = parse_token)]
    pub operator_token: SecretString,

    /// This service's own bearer token, presented when it calls another
    /// Candor service (which lists it under this service's name in its
    /// CALLER_TOKENS). Not accepted by this service itself.
    #[arg(long, env = "SERVICE_TOKEN", value_parser = parse_token)]
    pub service_token: SecretString,

    /// The other callers this service accepts: `caller=token` pairs
    /// separated by commas or newlines (callers: account, notification,
    /// membership, forum, frontend; several tokens per caller allowed, for
    /// rotation). Empty: only operators and members.
    #[arg(long, env = "CALLER_TOKENS", value_parser = parse_caller_tokens)]
    pub caller_tokens: Option<CallerTokens>,

    /// Callers whose `x-forwarded-for` is believed (comma-separated).
    #[arg(long, env = "TRUSTED_PROXY_CALLERS", value_delimiter = ',', default_value = "frontend", value_parser = parse_caller)]
    pub trusted_proxy_callers: Vec<Caller>,

    /// Addresses of the deployment's own proxies (CIDR blocks or addresses,
    /// comma-separated), skipped when reading `x-forwarded-for` from the right.
    #[arg(long, env = "TRUSTED_PROXY_ADDRESSES", value_delimiter = ',', value_parser = crate::auth::forwarded::parse_proxy_address)]
    pub trusted_proxy_addresses: Vec<ipnet::IpNet>,
}

impl AuthConfig {
    /// Operator and own tokens, no other caller, front ends as trusted proxies.
    pub fn new(operator_token: &str, service_token: &str) -> Self {
        Self {
            operator_token: SecretString::from(operator_token),
            service_token: SecretString::from(service_token),
            caller_tokens: None,
            trusted_proxy_callers: vec![Caller::FrontEnd],
            trusted_proxy_addresses: Vec::new(),
        }
    }
}

fn parse_caller_tokens(value: &str) -> Result<CallerTokens, String> {
    CallerTokens::parse(value)
}

fn parse_caller(value: &str) -> Result<Caller, String> {
    value
        .trim()
        .parse()
        .map_err(|error: crate::auth::UnknownCaller| error.to_string())
}

/// gRPC server lifecycle settings and limits (the listen address is per
/// service, because each has its own default port).
#[derive(clap::Args, Debug, Clone)]
pub struct ServerConfig {
    /// Seconds in-flight requests and messages get to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,

    /// `true` to accept only callers presenting a certificate signed by
    /// `GRPC_TLS_CA_FILE` (mutual TLS); needs `GRPC_TLS_CERT_FILE` too.
    #[arg(long, env = "GRPC_TLS_REQUIRE_CLIENT_CERT", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub grpc_tls_require_client_cert: bool,

    /// Largest gRPC message, in bytes, the server decodes or sends; a larger
    /// request is refused with OUT_OF_RANGE before it is decoded.
    #[arg(long, env = "GRPC_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..=(256 * 1024 * 1024)))]
    pub grpc_max_message_bytes: u32,

    /// Concurrent HTTP/2 streams (calls) one connection may open.
    #[arg(long, env = "GRPC_MAX_CONCURRENT_STREAMS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub grpc_max_concurrent_streams: u32,

    /// Calls the whole server runs at once; beyond that a call is refused at
    /// once with RESOURCE_EXHAUSTED (load shedding) rather than queued.
    #[arg(long, env = "GRPC_MAX_CONCURRENT_REQUESTS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub grpc_max_concurrent_requests: u32,

    /// Seconds a unary call may run before it is cut with CANCELLED (a
    /// client's shorter `grpc-timeout` wins).
    #[arg(long, env = "GRPC_REQUEST_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub grpc_request_timeout_seconds: u64,

    /// Seconds a client-streaming call (ImportAccounts) may run.
    #[arg(long, env = "GRPC_STREAM_TIMEOUT_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub grpc_stream_timeout_seconds: u64,

    /// Seconds between HTTP/2 keepalive pings to idle clients; a client
    /// that does not answer within 20 s is disconnected.
    #[arg(long, env = "GRPC_HTTP2_KEEPALIVE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub grpc_http2_keepalive_seconds: u64,
}

/// TLS for gRPC, off unless set. A service serves its gRPC port with the
/// certificate and presents it as its client certificate when it calls
/// another service at an `https://` URL; `candorctl` presents it too.
/// (`global` lets candorctl take the flags after a subcommand; a service has
/// no subcommands.)
#[derive(clap::Args, Debug, Clone, Default)]
pub struct GrpcTlsConfig {
    /// PEM certificate chain served on a service's gRPC port and presented
    /// to the services called at `https://` URLs; plain-text gRPC when unset.
    #[arg(
        long,
        env = "GRPC_TLS_CERT_FILE",
        requires = "grpc_tls_key_file",
        global = true
    )]
    pub grpc_tls_cert_file: Option<PathBuf>,

    /// PEM private key of `GRPC_TLS_CERT_FILE`.
    #[arg(
        long,
        env = "GRPC_TLS_KEY_FILE",
        requires = "grpc_tls_cert_file",
        global = true
    )]
    pub grpc_tls_key_file: Option<PathBuf>,

    /// PEM CA certificates that verify services called at `https://` URLs
    /// (the system's roots when unset) and, with
    /// `GRPC_TLS_REQUIRE_CLIENT_CERT`, callers' certificates.
    #[arg(long, env = "GRPC_TLS_CA_FILE", global = true)]
    pub grpc_tls_ca_file: Option<PathBuf>,
}

impl ServerConfig {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace_seconds: 30,
            grpc_tls_require_client_cert: false,
            grpc_max_message_bytes: 4 * 1024 * 1024,
            grpc_max_concurrent_streams: 100,
            grpc_max_concurrent_requests: 512,
            grpc_request_timeout_seconds: 30,
            grpc_stream_timeout_seconds: 3600,
            grpc_http2_keepalive_seconds: 60,
        }
    }
}

impl ServerConfig {
    /// `GRPC_MAX_MESSAGE_BYTES` as a size, for the generated services'
    /// `max_decoding_message_size` / `max_encoding_message_size`.
    pub fn max_message_bytes(&self) -> usize {
        self.grpc_max_message_bytes as usize
    }
}

/// Parses `C` from the command line and environment. Help and version go to
/// stdout with status 0; any other problem prints one line naming the setting
/// and exits with [`EXIT_CONFIG_ERROR`].
pub fn parse_or_exit<C: Parser>(program: &str) -> C {
    match try_parse_from::<C, _, _>(std::env::args_os()) {
        Ok(config) => config,
        Err(ConfigError::Display(text)) => {
            // Help and version are the user's request, not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
            std::process::exit(0)
        }
        Err(ConfigError::Invalid(line)) => {
            eprintln!("{program}: configuration error: {line}");
            std::process::exit(EXIT_CONFIG_ERROR)
        }
    }
}

/// Why a configuration could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--help` or `--version` was asked for; the text to print.
    #[error("{0}")]
    Display(String),
    /// A setting is missing or invalid; one line naming it.
    #[error("{0}")]
    Invalid(String),
}

/// Like [`parse_or_exit`] but returns the problem, for tests.
pub fn try_parse_from<C, I, T>(args: I) -> Result<C, ConfigError>
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    try_parse_with_environment(args, |name| std::env::var_os(name))
}

/// Like [`try_parse_from`], with `environment` answering for the `*_FILE`
/// variables (and the variables they stand for), so tests can give a
/// setting through a file without touching the process environment.
pub fn try_parse_with_environment<C, I, T>(
    args: I,
    environment: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<C, ConfigError>
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = prepare_command(C::command(), &environment).map_err(ConfigError::Invalid)?;
    let result = command
        .clone()
        .try_get_matches_from(args)
        .and_then(|mut matches| C::from_arg_matches_mut(&mut matches));
    result.map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            ConfigError::Display(error.render().to_string())
        }
        _ => ConfigError::Invalid(one_line(&command, &error)),
    })
}

/// Renders a clap error as one line: the setting (flag and environment
/// variable) and the problem.
fn one_line(command: &clap::Command, error: &clap::Error) -> String {
    let setting = |arg_text: &str| describe_setting(command, arg_text);
    let invalid_args: Vec<String> = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => vec![arg.clone()],
        Some(ContextValue::Strings(args)) => args.clone(),
        _ => Vec::new(),
    };
    match error.kind() {
        ErrorKind::MissingRequiredArgument => {
            let names: Vec<String> = invalid_args.iter().map(|arg| setting(arg)).collect();
            format!("{} is required but not set", names.join(", "))
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let name = invalid_args
                .first()
                .map(|arg| setting(arg))
                .unwrap_or_else(|| "a setting".to_owned());
            let value = match error.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(value)) if !looks_secret(&name) => {
                    format!(" {value:?}")
                }
                _ => String::new(),
            };
            let reason = error_source_line(error);
            format!("{name} has an invalid value{value}: {reason}")
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            first.trim_start_matches("error: ").to_owned()
        }
    }
}

fn error_source_line(error: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(error) {
        return source.to_string();
    }
    if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
        return format!("expected one of {}", valid.join(", "));
    }
    let rendered = error.render().to_string();
    rendered
        .lines()
        .next()
        .unwrap_or("invalid value")
        .trim_start_matches("error: ")
        .to_owned()
}

/// Whether a setting (by its environment variable or flag) may hold a
/// secret: its value is never echoed in errors nor shown by `--help`.
/// URLs count, because database, broker and SMTP URLs carry passwords.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["TOKEN", "KEY", "URL", "PASSWORD", "SECRET"]
        .iter()
        .any(|marker| name.contains(marker))
}

/// Suffix of the variable naming a file that holds a setting's value, as
/// Docker and Kubernetes secrets are mounted (`SERVICE_TOKEN_FILE=/run/secrets/…`).
pub const FILE_SUFFIX: &str = "_FILE";

/// Readies a command for parsing with the platform's rules, for every
/// argument of it and its subcommands: `--help` never prints the current
/// value of a secret setting, and a setting `X` can come from the file named
/// by `X_FILE` (trailing newlines dropped). Setting both is an error naming
/// both; so is a file that cannot be read (the message names the variable and
/// the path, never the content).
pub fn prepare_command(
    command: clap::Command,
    environment: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<clap::Command, String> {
    let mut problem = None;
    let mut command = command.mut_args(|arg| {
        let Some(variable) = arg.get_env().map(|env| env.to_string_lossy().into_owned()) else {
            return arg;
        };
        let arg = if looks_secret(&variable) {
            arg.hide_env_values(true)
        } else {
            arg
        };
        match value_from_file(&variable, environment) {
            // A default stands in for the value; a required setting is
            // satisfied by it (clap checks `required` before defaults).
            Ok(Some(value)) => arg
                .default_value(value)
                .hide_default_value(true)
                .required(false),
            Ok(None) => arg,
            Err(error) => {
                problem.get_or_insert(error);
                arg
            }
        }
    });
    if let Some(problem) = problem {
        return Err(problem);
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|subcommand| subcommand.get_name().to_owned())
        .collect();
    for name in names {
        let mut failure = None;
        command = command.mut_subcommand(&name, |subcommand| {
            match prepare_command(subcommand.clone(), environment) {
                Ok(prepared) => prepared,
                Err(error) => {
                    failure = Some(error);
                    subcommand
                }
            }
        });
        if let Some(failure) = failure {
            return Err(failure);
        }
    }
    Ok(command)
}

/// The value of setting `variable` from the file `<variable>_FILE` names.
fn value_from_file(
    variable: &str,
    environment: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Option<String>, String> {
    let file_variable = format!("{variable}{FILE_SUFFIX}");
    let Some(path) = environment(&file_variable).filter(|path| !path.is_empty()) else {
        return Ok(None);
    };
    if environment(variable).is_some() {
        return Err(format!(
            "{variable} and {file_variable} are both set; set only one"
        ));
    }
    let path = std::path::PathBuf::from(path);
    let content = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "{file_variable} {}: cannot read the file: {error}",
            path.display()
        )
    })?;
    let value = content.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!(
            "{file_variable} {}: the file is empty",
            path.display()
        ));
    }
    Ok(Some(value.to_owned()))
}

/// `--database-url <DATABASE_URL>` becomes `DATABASE_URL (--database-url)`.
fn describe_setting(command: &clap::Command, arg_text: &str) -> String {
    let long = arg_text
        .split_whitespace()
        .next()
        .unwrap_or(arg_text)
        .trim_start_matches("--");
    let found = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long));
    match found.and_then(|arg| arg.get_env()) {
        Some(env) => format!("{} (--{long})", env.to_string_lossy()),
        None => format!("--{long}"),
    }
}

fn parse_secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

fn parse_postgres_url(value: &str) -> Result<SecretString, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(parse_secret(value))
    } else {
        Err("must start with postgres:// or postgresql://".to_owned())
    }
}

/// One `amqp(s)://` URL or several separated by commas, each checked; a
/// problem names the entry by its position, never its value.
fn parse_amqp_url(value: &str) -> Result<SecretString, String> {
    crate::messaging::BrokerAddresses::parse(value)?;
    Ok(parse_secret(value))
}

/// Parses an `http://` or `https://` URL setting.
pub fn parse_http_url(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() => Ok(value.trim_end_matches('/').to_owned()),
        _ => Err("must be an http:// or https:// URL with a host".to_owned()),
    }
}

fn parse_amqp_namespace(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be 1..=100 characters of a-z, A-Z, 0-9, '-', '_' or '.'".to_owned())
    }
}

/// Parses a RabbitMQ user name: 1..=255 visible characters, no comma.
fn parse_amqp_user(value: &str) -> Result<String, String> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value.len() <= 255
        && value.chars().all(|c| c.is_ascii_graphic() && c != ',');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("must be a RabbitMQ user name: 1..=255 visible ASCII characters, no comma".to_owned())
    }
}

/// Parses a bearer-token setting: at least 16 visible ASCII characters.
pub fn parse_token(value: &str) -> Result<SecretString, String> {
    if value.len() < 16 {
        return Err("must be at least 16 characters".to_owned());
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err("must be visible ASCII characters without spaces".to_owned());
    }
    Ok(parse_secret(value))
}

/// Exposes a secret for the one place that needs the raw value.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

/// The settings every service has, flattened into each service's config.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub amqp: AmqpConfig,
    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub grpc_tls: GrpcTlsConfig,
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
    #[command(flatten)]
    pub metrics: MetricsConfig,
}

/// Prometheus metrics settings every service shares (the listen address,
/// `METRICS_ADDR`, is each service's own, beside `GRPC_ADDR`).
#[derive(clap::Args, Debug, Clone)]
pub struct MetricsConfig {
    /// Seconds an incident's progress series stay in the metrics after the
    /// service's part of it is complete, so every scraper sees the final
    /// counts before the series go away.
    #[arg(long, env = "METRICS_INCIDENT_LINGER_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=604_800))]
    pub metrics_incident_linger_seconds: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            metrics_incident_linger_seconds: 600,
        }
    }
}

impl MetricsConfig {
    /// How long a complete incident's series stay.
    pub fn incident_linger(&self) -> Duration {
        Duration::from_secs(self.metrics_incident_linger_seconds)
    }
}

/// Where a service serves its Prometheus metrics (`METRICS_ADDR`): an
/// address, or `off` for no metrics at all (no endpoint and no
/// instrumentation work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAddr {
    /// Serve `GET /metrics` here; port 0 picks a free port (tests).
    Listen(std::net::SocketAddr),
    /// No metrics.
    Off,
}

impl MetricsAddr {
    /// A free port on the loopback interface, for tests.
    pub fn loopback_any_port() -> Self {
        Self::Listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

impl std::str::FromStr for MetricsAddr {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        value.parse().map(Self::Listen).map_err(|_| {
            format!("must be an address with a port (0.0.0.0:9451) or `off`, not {value:?}")
        })
    }
}

impl std::fmt::Display for MetricsAddr {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Listen(addr) => write!(formatter, "{addr}"),
            Self::Off => formatter.write_str("off"),
        }
    }
}

/// Parses a server-side secret key: at least 32 characters.
pub fn parse_secret_key(value: &str) -> Result<SecretString, String> {
    if value.chars().count() < 32 {
        return Err("must be at least 32 characters".to_owned());
    }
    Ok(parse_secret(value))
}

/// Parses an `smtp://` or `smtps://` URL (credentials may be included).
pub fn parse_smtp_url(value: &str) -> Result<SecretString, String> {
    let rest = value
        .strip_prefix("smtp://")
        .or_else(|| value.strip_prefix("smtps://"));
    match rest {
        Some(host) if !host.is_empty() => Ok(parse_secret(value)),
        _ => Err("must be an smtp:// or smtps:// URL with a host".to_owned()),
    }
}
