//! Where the Candor services and RabbitMQ are. Each setting comes from, in
//! order: its flag (accepted before or after the subcommand), its
//! environment variable (or `X_FILE`), the selected context of the config
//! file ([`crate::config_file`]), and the default — the docker compose ports
//! on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candor_client::{Connection, ConnectionBuilder};
use candor_platform::config::{AmqpConfig, GrpcTlsConfig};
use candor_platform::grpc::GrpcTls;
use secrecy::SecretString;
use serde::Serialize;

use crate::config_file::{self, ConfigError, ConfigFile, Context};

const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const DEFAULT_AMQP_NAMESPACE: &str = "candor";
/// The compose ports of account, notification, membership and forum.
const DEFAULT_GRPC_URLS: [&str; 4] = [
    "http://127.0.0.1:50051",
    "http://127.0.0.1:50052",
    "http://127.0.0.1:50053",
    "http://127.0.0.1:50054",
];

/// The connection flags, global: `candorctl --context prod health` and
/// `candorctl health --context prod` mean the same.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectionFlags {
    /// The config file's context to use (default: its `current-context`).
    #[arg(long, env = "CANDOR_CONTEXT", global = true)]
    pub context: Option<String>,
    /// RabbitMQ URL, including the virtual host [default: amqp://guest:guest@127.0.0.1:5672/%2f]
    #[arg(long, env = "AMQP_URL", hide_env_values = true, global = true)]
    pub amqp_url: Option<String>,
    /// Prefix of Candor's exchange and queue names [default: candor]
    #[arg(long, env = "AMQP_NAMESPACE", global = true)]
    pub amqp_namespace: Option<String>,
    /// gRPC URL of the account service [default: http://127.0.0.1:50051]
    #[arg(long, env = "ACCOUNT_GRPC_URL", global = true)]
    pub account_grpc_url: Option<String>,
    /// gRPC URL of the notification service [default: http://127.0.0.1:50052]
    #[arg(long, env = "NOTIFICATION_GRPC_URL", global = true)]
    pub notification_grpc_url: Option<String>,
    /// gRPC URL of the membership service [default: http://127.0.0.1:50053]
    #[arg(long, env = "MEMBERSHIP_GRPC_URL", global = true)]
    pub membership_grpc_url: Option<String>,
    /// gRPC URL of the forum service [default: http://127.0.0.1:50054]
    #[arg(long, env = "FORUM_GRPC_URL", global = true)]
    pub forum_grpc_url: Option<String>,
    /// Operator bearer token (operator RPCs: dry-run counts, status, import).
    #[arg(long, env = "OPERATOR_TOKEN", hide_env_values = true, global = true)]
    pub operator_token: Option<String>,
    // TLS for `https://` service URLs, by the services' own `GRPC_TLS_*` names.
    #[command(flatten)]
    pub tls: GrpcTlsConfig,
}

/// The argument ids of the settings, as clap names them (the field names).
pub const SETTING_IDS: [&str; 11] = [
    "amqp_url",
    "amqp_namespace",
    "account_grpc_url",
    "notification_grpc_url",
    "membership_grpc_url",
    "forum_grpc_url",
    "operator_token",
    "grpc_tls_ca_file",
    "grpc_tls_cert_file",
    "grpc_tls_key_file",
    "context",
];

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Flag,
    Environment,
    Context,
    Default,
}

/// Connection settings shared by every command that talks to Candor.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// RabbitMQ URL with the virtual host (and the broker user's password).
    pub amqp_url: String,
    /// Prefix of Candor's exchange and queue names.
    pub amqp_namespace: String,
    /// gRPC URL of the account service.
    pub account_grpc_url: String,
    /// gRPC URL of the notification service.
    pub notification_grpc_url: String,
    /// gRPC URL of the membership service.
    pub membership_grpc_url: String,
    /// gRPC URL of the forum service.
    pub forum_grpc_url: String,
    /// The operator's bearer token, sent on every call when set.
    pub operator_token: Option<String>,
    /// TLS files for `https://` URLs.
    pub tls: GrpcTlsConfig,
}

/// One setting as `candorctl config view` shows it: secrets masked.
#[derive(Debug, Clone, Serialize)]
pub struct ShownSetting {
    /// The setting's argument id (`account_grpc_url`).
    pub setting: &'static str,
    /// Its value, a password masked and a token never shown.
    pub value: String,
    /// Where the value came from.
    pub origin: Origin,
}

/// The settings resolved, with where each came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The settings to connect with.
    pub endpoints: Endpoints,
    /// The context used and the file it is in.
    pub context: Option<(String, PathBuf)>,
    /// Every setting as `config view` shows it.
    pub shown: Vec<ShownSetting>,
}

/// What the environment gives the resolution: the config file's path and
/// the home directory (for `~/` in it).
pub struct Environment {
    /// The config file (which need not exist), if there is a place for one.
    pub config_path: Option<PathBuf>,
    /// The home directory, for `~/` in the config file.
    pub home: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Self {
        let lookup = |name: &str| std::env::var_os(name);
        Self {
            config_path: config_file::default_path(&lookup),
            home: std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(PathBuf::from),
        }
    }
}

impl ConnectionFlags {
    /// Resolves every setting: flag or environment (`origins` says which,
    /// from clap), else the context, else the default. Reads the context's
    /// secret files; a problem names the config file and the key.
    pub fn resolve(
        &self,
        origins: &BTreeMap<&'static str, Origin>,
        environment: &Environment,
    ) -> Result<Resolved, ConfigError> {
        let file_and_context = match &environment.config_path {
            Some(path) => {
                let file = ConfigFile::load(path)?;
                file.select(self.context.as_deref(), path)?
                    .map(|(name, context)| (path.clone(), name.to_owned(), context.clone()))
            }
            None if self.context.is_some() => {
                return Err(ConfigError {
                    path: PathBuf::from("~/.config/candor/config.toml"),
                    line: None,
                    key: None,
                    message: format!(
                        "--context needs a config file: set {} or HOME",
                        config_file::CONFIG_VAR
                    ),
                });
            }
            None => None,
        };
        let mut resolver = Resolver {
            origins,
            context: file_and_context
                .as_ref()
                .map(|(path, name, context)| (path.as_path(), name.as_str(), context)),
            home: environment.home.as_deref(),
            shown: Vec::new(),
        };
        let context = resolver.context.map(|(_, _, context)| context);
        let pick = |field: fn(&Context) -> &Option<String>| context.and_then(|c| field(c).clone());

        type Field = fn(&Context) -> &Option<String>;
        let services: [(&'static str, &Option<String>, Field); 4] = [
            ("account_grpc_url", &self.account_grpc_url, |c| {
                &c.account_grpc_url
            }),
            ("notification_grpc_url", &self.notification_grpc_url, |c| {
                &c.notification_grpc_url
            }),
            ("membership_grpc_url", &self.membership_grpc_url, |c| {
                &c.membership_grpc_url
            }),
            ("forum_grpc_url", &self.forum_grpc_url, |c| {
                &c.forum_grpc_url
            }),
        ];
        let urls: Vec<String> = services
            .into_iter()
            .zip(DEFAULT_GRPC_URLS)
            .map(|((id, given, field), default)| {
                resolver.text(id, given, pick(field), default, grpc_url)
            })
            .collect();
        let [
            account_grpc_url,
            notification_grpc_url,
            membership_grpc_url,
            forum_grpc_url,
        ]: [String; 4] = urls.try_into().unwrap_or_default();
        let amqp_namespace = resolver.text(
            "amqp_namespace",
            &self.amqp_namespace,
            pick(|c| &c.amqp_namespace),
            DEFAULT_AMQP_NAMESPACE,
            std::convert::identity,
        );
        let amqp_url = resolver.amqp_url(&self.amqp_url)?;
        let operator_token = resolver.operator_token(&self.operator_token)?;
        let tls = GrpcTlsConfig {
            grpc_tls_ca_file: resolver.path(
                "grpc_tls_ca_file",
                &self.tls.grpc_tls_ca_file,
                context.and_then(|c| c.grpc_tls_ca_file.clone()),
            ),
            grpc_tls_cert_file: resolver.path(
                "grpc_tls_cert_file",
                &self.tls.grpc_tls_cert_file,
                context.and_then(|c| c.grpc_tls_cert_file.clone()),
            ),
            grpc_tls_key_file: resolver.path(
                "grpc_tls_key_file",
                &self.tls.grpc_tls_key_file,
                context.and_then(|c| c.grpc_tls_key_file.clone()),
            ),
        };
        let shown = resolver.shown;
        Ok(Resolved {
            endpoints: Endpoints {
                amqp_url,
                amqp_namespace,
                account_grpc_url,
                notification_grpc_url,
                membership_grpc_url,
                forum_grpc_url,
                operator_token,
                tls,
            },
            context: file_and_context.map(|(path, name, _)| (name, path)),
            shown,
        })
    }
}

/// Picks each setting by precedence and records what `config view` shows.
struct Resolver<'a> {
    origins: &'a BTreeMap<&'static str, Origin>,
    context: Option<(&'a Path, &'a str, &'a Context)>,
    home: Option<&'a Path>,
    shown: Vec<ShownSetting>,
}

impl Resolver<'_> {
    /// The flag/environment origin of `id`, if clap had a value.
    fn given(&self, id: &str, value: bool) -> Option<Origin> {
        value.then(|| self.origins.get(id).copied().unwrap_or(Origin::Flag))
    }

    /// A text setting by precedence, passed through `normalize` (e.g.
    /// [`grpc_url`]) unless it is the default.
    fn text(
        &mut self,
        id: &'static str,
        given: &Option<String>,
        from_context: Option<String>,
        default: &str,
        normalize: fn(String) -> String,
    ) -> String {
        let (value, origin) = match (given, from_context) {
            (Some(value), _) => (
                normalize(value.clone()),
                self.given(id, true).unwrap_or(Origin::Flag),
            ),
            (None, Some(value)) => (normalize(value), Origin::Context),
            (None, None) => (default.to_owned(), Origin::Default),
        };
        self.show(id, value.clone(), origin);
        value
    }

    fn path(
        &mut self,
        id: &'static str,
        given: &Option<PathBuf>,
        from_context: Option<PathBuf>,
    ) -> Option<PathBuf> {
        let (value, origin) = match (given, from_context) {
            (Some(value), _) => (Some(value.clone()), self.given(id, true)),
            (None, Some(value)) => (Some(self.in_context(&value)), Some(Origin::Context)),
            (None, None) => (None, None),
        };
        if let (Some(value), Some(origin)) = (&value, origin) {
            self.show(id, value.display().to_string(), origin);
        }
        value
    }

    fn amqp_url(&mut self, given: &Option<String>) -> Result<String, ConfigError> {
        if let Some(url) = given {
            let origin = self.given("amqp_url", true).unwrap_or(Origin::Flag);
            self.show("amqp_url", config_file::mask_url_password(url), origin);
            return Ok(url.clone());
        }
        let Some((path, name, context)) = self.context else {
            self.show(
                "amqp_url",
                config_file::mask_url_password(DEFAULT_AMQP_URL),
                Origin::Default,
            );
            return Ok(DEFAULT_AMQP_URL.to_owned());
        };
        let key = |field: &str| format!("contexts.{name}.{field}");
        let url = match (&context.amqp_url, &context.amqp_url_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    path: path.to_owned(),
                    line: None,
                    key: Some(key("amqp-url")),
                    message: "set amqp-url or amqp-url-file, not both".to_owned(),
                });
            }
            (Some(url), None) => url.clone(),
            (None, Some(file)) => self.read_secret(&key("amqp-url-file"), file)?,
            (None, None) => {
                self.show(
                    "amqp_url",
                    config_file::mask_url_password(DEFAULT_AMQP_URL),
                    Origin::Default,
                );
                return Ok(DEFAULT_AMQP_URL.to_owned());
            }
        };
        self.show(
            "amqp_url",
            config_file::mask_url_password(&url),
            Origin::Context,
        );
        Ok(url)
    }

    fn operator_token(&mut self, given: &Option<String>) -> Result<Option<String>, ConfigError> {
        if given.is_some() {
            let origin = self.given("operator_token", true).unwrap_or(Origin::Flag);
            self.show("operator_token", "(set, hidden)".to_owned(), origin);
            return Ok(given.clone());
        }
        let Some((_, name, context)) = self.context else {
            return Ok(None);
        };
        let Some(file) = &context.operator_token_file else {
            return Ok(None);
        };
        let key = format!("contexts.{name}.operator-token-file");
        let token = self.read_secret(&key, file)?;
        let shown = format!("(from {})", self.in_context(file).display());
        self.show("operator_token", shown, Origin::Context);
        Ok(Some(token))
    }

    /// The trimmed content of a secret file named in the context; an error
    /// names the config file, the key and the path, never the content.
    fn read_secret(&self, key: &str, file: &Path) -> Result<String, ConfigError> {
        let config_path = self.context.map(|(path, _, _)| path).unwrap_or(file);
        let resolved = self.in_context(file);
        let problem = |message: String| ConfigError {
            path: config_path.to_owned(),
            line: None,
            key: Some(key.to_owned()),
            message,
        };
        let content = std::fs::read_to_string(&resolved)
            .map_err(|error| problem(format!("cannot read {}: {error}", resolved.display())))?;
        let value = content.trim_end_matches(['\n', '\r']).to_owned();
        if value.is_empty() {
            return Err(problem(format!("{} is empty", resolved.display())));
        }
        Ok(value)
    }

    fn in_context(&self, file: &Path) -> PathBuf {
        match self.context {
            Some((config_path, _, _)) => config_file::resolve_path(file, config_path, self.home),
            None => file.to_owned(),
        }
    }

    fn show(&mut self, id: &'static str, value: String, origin: Origin) {
        self.shown.push(ShownSetting {
            setting: id,
            value,
            origin,
        });
    }
}

/// A gRPC address as a URL: `127.0.0.1:50051` means `http://127.0.0.1:50051`.
pub fn grpc_url(address: String) -> String {
    if address.contains("://") {
        address
    } else {
        format!("http://{address}")
    }
}

/// A connection that sends the operator token (when set) and trace
/// context ([`candor_client::Connection`]).
pub type OperatorChannel = Connection;

impl Endpoints {
    pub fn amqp(&self) -> AmqpConfig {
        AmqpConfig::new(&self.amqp_url, &self.amqp_namespace)
    }

    /// The four services by name with their URLs, in [`candor_platform::messaging::ServiceQueue::ALL`] order.
    pub fn services(&self) -> [(&'static str, &str); 4] {
        [
            ("account", self.account_grpc_url.as_str()),
            ("notification", self.notification_grpc_url.as_str()),
            ("membership", self.membership_grpc_url.as_str()),
            ("forum", self.forum_grpc_url.as_str()),
        ]
    }

    /// A lazily made connection to `url` carrying the operator token; each
    /// call must finish within 30 s, and reads are retried when the service
    /// is UNAVAILABLE.
    pub fn operator_channel(&self, url: &str) -> anyhow::Result<OperatorChannel> {
        self.with_operator_token(self.grpc_tls()?.connection(url))
    }

    /// Like [`Endpoints::operator_channel`] without a per-call deadline, for
    /// long streams such as an import.
    pub fn operator_stream_channel(&self, url: &str) -> anyhow::Result<OperatorChannel> {
        self.with_operator_token(self.grpc_tls()?.connection(url).default_deadline(None))
    }

    /// A connection without a token and without a per-call deadline, e.g.
    /// for the health check (which sets its own).
    pub fn plain_channel(&self, url: &str) -> anyhow::Result<Connection> {
        Ok(self
            .grpc_tls()?
            .connection(url)
            .default_deadline(None)
            .connect_lazy()?)
    }

    fn grpc_tls(&self) -> anyhow::Result<GrpcTls> {
        GrpcTls::load(&self.tls, false)
    }

    fn with_operator_token(&self, builder: ConnectionBuilder) -> anyhow::Result<OperatorChannel> {
        let builder = match &self.operator_token {
            Some(token) => builder.bearer_token(SecretString::from(token.clone())),
            None => builder,
        };
        builder.connect_lazy().map_err(|error| match error {
            candor_client::ConnectError::InvalidToken => {
                anyhow::anyhow!("OPERATOR_TOKEN: credential is not valid metadata")
            }
            other => other.into(),
        })
    }
}
