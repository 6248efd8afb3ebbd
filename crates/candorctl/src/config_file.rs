//! `~/.config/candor/config.toml` (or the file `CANDOR_CONFIG` names): named
//! contexts, each saying where one deployment's services and broker are and
//! where the operator's secrets lie, and which context is current, as
//! kubectl's kubeconfig does.
//!
//! ```toml
//! current-context = "staging"
//!
//! [contexts.staging]
//! account-grpc-url = "https://account.staging.example:50051"
//! amqp-url-file = "~/candor/staging/amqp_url"
//! amqp-namespace = "candor"
//! operator-token-file = "~/candor/staging/operator_token"
//! ```
//!
//! Secrets are never written inline: the operator token (and, if wanted,
//! the AMQP URL with its password) is a file path, read when a command
//! needs it. Every problem names the file and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The variable naming another config file.
pub const CONFIG_VAR: &str = "CANDOR_CONFIG";

/// The parsed file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    /// The context used when `--context` is not given.
    pub current_context: Option<String>,
    /// Contexts by name.
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// One deployment's settings; each one unset falls back to the default.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Context {
    /// gRPC URL of the account service.
    pub account_grpc_url: Option<String>,
    /// gRPC URL of the notification service.
    pub notification_grpc_url: Option<String>,
    /// gRPC URL of the membership service.
    pub membership_grpc_url: Option<String>,
    /// gRPC URL of the forum service.
    pub forum_grpc_url: Option<String>,
    /// RabbitMQ URL (its password is masked whenever it is shown).
    pub amqp_url: Option<String>,
    /// A file holding the RabbitMQ URL (instead of `amqp-url`).
    pub amqp_url_file: Option<PathBuf>,
    /// Prefix of Candor's exchange and queue names.
    pub amqp_namespace: Option<String>,
    /// A file holding the operator token (never the token itself).
    pub operator_token_file: Option<PathBuf>,
    /// CA certificates verifying `https://` services.
    pub grpc_tls_ca_file: Option<PathBuf>,
    /// The operator's client certificate for mutual TLS.
    pub grpc_tls_cert_file: Option<PathBuf>,
    /// The key of `grpc-tls-cert-file`.
    pub grpc_tls_key_file: Option<PathBuf>,
}

/// A problem with the config file, naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub path: PathBuf,
    /// 1-based line, when the problem is in the file's text.
    pub line: Option<usize>,
    /// The key (`contexts.staging.amqp-url-file`), when one is at fault.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(formatter, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(formatter, ": {key}")?;
        }
        write!(formatter, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where the config file is: `CANDOR_CONFIG`, else
/// `$HOME/.config/candor/config.toml`; `None` without either.
pub fn default_path(environment: &impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(path) = environment(CONFIG_VAR).filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    environment("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".config/candor/config.toml"))
}

impl ConfigFile {
    /// Reads `path`; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(error) => {
                return Err(ConfigError {
                    path: path.to_owned(),
                    line: None,
                    key: None,
                    message: format!("cannot read: {error}"),
                });
            }
        };
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError {
            path: path.to_owned(),
            line: error
                .span()
                .map(|span| crate::notice::line_at(text, span.start)),
            key: None,
            message: error.message().trim().to_owned(),
        })
    }

    /// The context to use: `requested` (from `--context`), else
    /// `current-context`; `None` when neither names one.
    pub fn select<'a>(
        &'a self,
        requested: Option<&'a str>,
        path: &Path,
    ) -> Result<Option<(&'a str, &'a Context)>, ConfigError> {
        let (name, key) = match (requested, &self.current_context) {
            (Some(name), _) => (name, None),
            (None, Some(name)) => (name.as_str(), Some("current-context")),
            (None, None) => return Ok(None),
        };
        match self.contexts.get_key_value(name) {
            Some((name, context)) => Ok(Some((name.as_str(), context))),
            None => Err(ConfigError {
                path: path.to_owned(),
                line: None,
                key: key.map(str::to_owned),
                message: format!("no context named {name:?} ({})", self.known_contexts()),
            }),
        }
    }

    /// "contexts: a, b" or "the file has no contexts".
    pub fn known_contexts(&self) -> String {
        if self.contexts.is_empty() {
            "the file has no contexts".to_owned()
        } else {
            format!(
                "contexts: {}",
                self.contexts.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// Sets `current-context = "name"` in the file's text, keeping everything
/// else (comments included) as written.
pub fn with_current_context(text: &str, name: &str) -> String {
    let line = format!("current-context = {}", toml_string(name));
    let mut out = Vec::new();
    let mut replaced = false;
    let mut in_root = true;
    for existing in text.lines() {
        let trimmed = existing.trim_start();
        if trimmed.starts_with('[') {
            in_root = false;
        }
        let is_key = trimmed
            .strip_prefix("current-context")
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if in_root && is_key && !replaced {
            out.push(line.clone());
            replaced = true;
        } else {
            out.push(existing.to_owned());
        }
    }
    if !replaced {
        out.insert(0, line);
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// `~/x` with the home directory; a relative path is taken from the config
/// file's directory (so a context can name `secrets/operator_token` next
/// to the file).
pub fn resolve_path(path: &Path, config_path: &Path, home: Option<&Path>) -> PathBuf {
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), home) {
        return home.join(rest);
    }
    if path.is_relative() {
        return config_path
            .parent()
            .map_or_else(|| path.to_owned(), |directory| directory.join(path));
    }
    path.to_owned()
}

/// `amqp://user:***@host/vhost`: a URL with any password masked; each URL
/// of a comma-separated list (the nodes of a RabbitMQ cluster in `AMQP_URL`).
pub fn mask_url_password(url: &str) -> String {
    url.split(',')
        .map(mask_one_url_password)
        .collect::<Vec<_>>()
        .join(",")
}

fn mask_one_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_names_the_file_and_line() {
        let text = "current-context = \"a\"\n\n[contexts.a]\naccount-grpc-ulr = \"x\"\n";
        let error = ConfigFile::parse(text, Path::new("/c.toml")).unwrap_err();
        let shown = error.to_string();
        assert!(shown.starts_with("/c.toml:4: "), "{shown}");
        assert!(shown.contains("account-grpc-ulr"), "{shown}");
    }

    #[test]
    fn a_missing_current_context_names_the_key_and_the_contexts() {
        let file = ConfigFile::parse(
            "current-context = \"gone\"\n[contexts.local]\n",
            Path::new("/c.toml"),
        )
        .unwrap();
        let error = file.select(None, Path::new("/c.toml")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/c.toml: current-context: no context named \"gone\" (contexts: local)"
        );
    }

    #[test]
    fn use_context_rewrites_only_the_root_key() {
        let text = "# mine\ncurrent-context = \"a\"\n[contexts.a]\n[contexts.b]\n";
        assert_eq!(
            with_current_context(text, "b"),
            "# mine\ncurrent-context = \"b\"\n[contexts.a]\n[contexts.b]\n"
        );
        assert_eq!(
            with_current_context("[contexts.b]\n", "b"),
            "current-context = \"b\"\n[contexts.b]\n"
        );
    }

    #[test]
    fn passwords_are_masked_and_paths_resolved() {
        assert_eq!(
            mask_url_password("amqp://op:secret@rabbit:5672/%2f"),
            "amqp://op:***@rabbit:5672/%2f"
        );
        assert_eq!(mask_url_password("amqp://rabbit/%2f"), "amqp://rabbit/%2f");
        assert_eq!(
            mask_url_password(
                "amqp://op:secret@rabbit:5672/%2f,amqp://op:secret@rabbit-2:5672/%2f"
            ),
            "amqp://op:***@rabbit:5672/%2f,amqp://op:***@rabbit-2:5672/%2f",
            "every node of a cluster"
        );
        let config = Path::new("/etc/candor/config.toml");
        assert_eq!(
            resolve_path(Path::new("~/token"), config, Some(Path::new("/home/op"))),
            PathBuf::from("/home/op/token")
        );
        assert_eq!(
            resolve_path(Path::new("secrets/token"), config, None),
            PathBuf::from("/etc/candor/secrets/token")
        );
    }
}
