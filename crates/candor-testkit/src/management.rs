//! The RabbitMQ management HTTP API, for what AMQP cannot do: importing the
//! generated broker definitions (per-test users and their permissions) and
//! deleting those users afterwards. The test broker's AMQP user (`guest` on
//! a development machine, an administrator) authenticates the calls.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lapin::uri::AMQPUri;

/// Where the tests find the management API.
pub const MANAGEMENT_URL_VAR: &str = "CANDOR_TEST_RABBITMQ_MANAGEMENT_URL";
const DEFAULT_MANAGEMENT_URL: &str = "http://127.0.0.1:15672";
const TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the management API, authenticated as the AMQP URL's user.
#[derive(Debug, Clone)]
pub struct ManagementApi {
    base_url: String,
    authorization: String,
}

impl ManagementApi {
    /// The API at `CANDOR_TEST_RABBITMQ_MANAGEMENT_URL` (default
    /// `http://127.0.0.1:15672`), with the credentials of `amqp_url`.
    pub fn for_amqp_url(amqp_url: &str) -> anyhow::Result<Self> {
        let base_url =
            std::env::var(MANAGEMENT_URL_VAR).unwrap_or_else(|_| DEFAULT_MANAGEMENT_URL.to_owned());
        Self::at(&base_url, amqp_url)
    }

    /// The API at `base_url` (`http://127.0.0.1:15672`), with the
    /// credentials of `amqp_url` (its first node's, for a comma-separated
    /// list of a cluster's nodes).
    pub fn at(base_url: &str, amqp_url: &str) -> anyhow::Result<Self> {
        let first = amqp_url.split(',').next().unwrap_or_default().trim();
        let uri = AMQPUri::from_str(first).map_err(|error| anyhow!("{error}"))?;
        let credentials = format!(
            "{}:{}",
            uri.authority.userinfo.username, uri.authority.userinfo.password
        );
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            authorization: format!("Basic {}", BASE64.encode(credentials)),
        })
    }

    /// Imports a definitions document (`POST /api/definitions`): users,
    /// permissions, exchanges, queues and bindings in one call.
    pub fn import_definitions(&self, document: &serde_json::Value) -> anyhow::Result<()> {
        let url = format!("{}/api/definitions", self.base_url);
        let response = self
            .agent()
            .post(&url)
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .send(document.to_string())
            .map_err(|error| self.unreachable(error))?;
        check(response).context("importing the broker definitions")
    }

    /// Deletes a user (`DELETE /api/users/<name>`); a missing user is fine.
    pub fn delete_user(&self, name: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/users/{}", self.base_url, percent_encode(name));
        let response = self
            .agent()
            .delete(&url)
            .header("authorization", &self.authorization)
            .call()
            .map_err(|error| self.unreachable(error))?;
        if response.status() == 404 {
            return Ok(());
        }
        check(response).with_context(|| format!("deleting user {name}"))
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    /// A transport failure most likely means the plugin is off: say how to
    /// turn it on.
    fn unreachable(&self, error: ureq::Error) -> anyhow::Error {
        anyhow!(
            "the RabbitMQ management API is not reachable at {} ({error}); enable it with \
             `rabbitmq-plugins enable rabbitmq_management` or point {MANAGEMENT_URL_VAR} at it",
            self.base_url
        )
    }
}

/// A 2xx response, or an error carrying the status and the API's reason.
fn check(mut response: ureq::http::Response<ureq::Body>) -> anyhow::Result<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|error| format!("(unreadable body: {error})"));
    Err(anyhow!(
        "the RabbitMQ management API answered {status}: {}",
        body.chars().take(2_000).collect::<String>()
    ))
}

/// Percent-encodes a path segment (user names may hold `/` or `%`).
fn percent_encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
