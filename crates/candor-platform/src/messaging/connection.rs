//! The one AMQP connection of a process, reopened with backoff when it drops.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use crate::config::AmqpConfig;

/// Heartbeat interval (seconds) used when `AMQP_URL` does not set one, so a
/// dead peer behind a NAT or load balancer is noticed within a minute.
const DEFAULT_HEARTBEAT_SECONDS: u16 = 30;
/// TCP + handshake timeout used when `AMQP_URL` does not set one, so a
/// blackholed broker fails an attempt instead of hanging it.
const DEFAULT_CONNECTION_TIMEOUT_MILLIS: u64 = 10_000;

/// The process's connection to RabbitMQ. Cheap to clone; every clone shares
/// the same connection.
///
/// The connection is opened lazily by [`Broker::channel`] and reopened there
/// when it has dropped. Failed attempts are spaced by a capped, jittered
/// exponential backoff: until the next attempt is due, `channel` fails at once
/// instead of hammering a broker that is down. Channels are owned by their
/// users ([`super::Publisher`], [`super::run_consumer`]), which notice a dead
/// channel and ask for a new one.
#[derive(Clone)]
pub struct Broker {
    config: Arc<AmqpConfig>,
    uri: Arc<SecretString>,
    /// The user of `AMQP_URL`: every publish carries it as `user_id`.
    user: Arc<str>,
    state: Arc<Mutex<State>>,
}

struct State {
    connection: Option<Arc<Connection>>,
    backoff: Backoff,
    /// After a failed attempt, no new attempt before this instant.
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Broker")
            .field("namespace", &self.config.amqp_namespace)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker handle that connects on first use. Fails only when the URL is
    /// not a valid AMQP URL.
    pub fn new(config: &AmqpConfig) -> anyhow::Result<Self> {
        let mut uri = AMQPUri::from_str(config.amqp_url.expose_secret())
            .map_err(|error| anyhow!("AMQP_URL is not a valid AMQP URL: {error}"))?;
        uri.query.heartbeat.get_or_insert(DEFAULT_HEARTBEAT_SECONDS);
        uri.query
            .connection_timeout
            .get_or_insert(DEFAULT_CONNECTION_TIMEOUT_MILLIS);
        // lapin fills in `guest` when the URL names no user, as RabbitMQ's
        // clients do; that is the user the broker will see.
        let user = Arc::from(uri.authority.userinfo.username.as_str());
        Ok(Self {
            config: Arc::new(config.clone()),
            uri: Arc::new(SecretString::from(uri.to_string())),
            user,
            state: Arc::new(Mutex::new(State {
                connection: None,
                backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
                retry_at: None,
                last_error: None,
            })),
        })
    }

    /// Like [`Broker::new`], and opens the connection now so that a service
    /// with a wrong URL or credentials fails at start.
    pub async fn connect(config: &AmqpConfig) -> anyhow::Result<Self> {
        let broker = Self::new(config)?;
        broker.connection().await?;
        Ok(broker)
    }

    /// Replaces the reconnect backoff (default 200 ms doubling up to 30 s);
    /// tests shorten it.
    pub fn with_reconnect_backoff(self, initial: Duration, max: Duration) -> Self {
        if let Ok(mut state) = self.state.try_lock() {
            state.backoff = Backoff::new(initial, max);
        }
        self
    }

    /// The settings this broker was created from.
    pub fn config(&self) -> &AmqpConfig {
        &self.config
    }

    /// The user this broker connects as (from `AMQP_URL`), which every
    /// publish sets as its `user_id` property and RabbitMQ validates.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// A new channel on the live connection, reconnecting first if the
    /// connection dropped. Fails at once while a reconnect backoff is running.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let connection = self.connection().await?;
        match connection.create_channel().await {
            Ok(channel) => Ok(channel),
            Err(error) => {
                self.forget(&connection).await;
                Err(error).context("opening an AMQP channel")
            }
        }
    }

    /// Like [`Broker::channel`] but waits out the backoff and tries again until
    /// it succeeds; `None` once `shutdown` is cancelled.
    pub async fn channel_with_retry(&self, shutdown: &CancellationToken) -> Option<Channel> {
        loop {
            match self.channel().await {
                Ok(channel) => return Some(channel),
                Err(error) => {
                    tracing::debug!(error = %format!("{error:#}"), "amqp channel unavailable");
                }
            }
            let wait = self.time_until_retry().await;
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Closes the connection (at shutdown, after consumers and publishers
    /// are done).
    pub async fn close(&self) {
        let connection = self.state.lock().await.connection.take();
        if let Some(connection) = connection
            && connection.status().connected()
            && let Err(error) = connection.close(200, "shutdown".into()).await
        {
            tracing::debug!(error = %error, "closing the amqp connection");
        }
    }

    /// The live connection, opening a new one if needed.
    async fn connection(&self) -> anyhow::Result<Arc<Connection>> {
        let mut state = self.state.lock().await;
        if let Some(connection) = &state.connection {
            if connection.status().connected() {
                return Ok(connection.clone());
            }
            tracing::warn!("amqp connection lost, reconnecting");
            state.connection = None;
        }
        if let Some(retry_at) = state.retry_at
            && Instant::now() < retry_at
        {
            let last = state.last_error.clone().unwrap_or_default();
            return Err(anyhow!("broker unavailable (last error: {last})"));
        }
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("candor {}", std::process::id()).into());
        match Connection::connect(self.uri.expose_secret(), properties).await {
            Ok(connection) => {
                if state.last_error.is_some() {
                    tracing::info!("amqp connection reestablished");
                }
                let connection = Arc::new(connection);
                state.connection = Some(connection.clone());
                state.backoff.reset();
                state.retry_at = None;
                state.last_error = None;
                Ok(connection)
            }
            Err(error) => {
                let delay = state.backoff.next_delay();
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis(), "cannot connect to rabbitmq");
                state.retry_at = Some(Instant::now() + delay);
                state.last_error = Some(error.to_string());
                Err(error).context("connecting to RabbitMQ at AMQP_URL")
            }
        }
    }

    async fn time_until_retry(&self) -> Duration {
        let state = self.state.lock().await;
        let wait = state
            .retry_at
            .map(|retry_at| retry_at.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        // A channel-level failure on a live connection has no retry instant;
        // still pause a little so a broken queue does not spin the loop.
        wait.max(Duration::from_millis(50))
    }

    /// Drops `connection` if it is still the current one, so the next call
    /// reconnects.
    async fn forget(&self, connection: &Arc<Connection>) {
        let mut state = self.state.lock().await;
        if let Some(current) = &state.connection
            && Arc::ptr_eq(current, connection)
            && !current.status().connected()
        {
            state.connection = None;
        }
    }
}
