//! The one AMQP connection of a process: to the first node of `AMQP_URL`
//! that answers, moved to the next node when it drops, with backoff once
//! every node failed.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures::future::BoxFuture;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::addresses::{BrokerAddresses, BrokerNode, NodeRotation};
use super::backoff::Backoff;
use crate::config::AmqpConfig;

/// What runs on every new connection before anyone else may use it (a
/// service declares its topology again: the node it moved to may have lost
/// it, or be another broker altogether). Given a channel of its own, which
/// is closed afterwards.
type ConnectHook = Arc<dyn Fn(Channel) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// The process's connection to RabbitMQ. Cheap to clone; every clone shares
/// the same connection.
///
/// `AMQP_URL` may list several nodes of a cluster. The connection is opened
/// lazily by [`Broker::channel`] to the first node that answers, and when it
/// drops, reopened there on the node after the one it was on (round robin).
/// Once every node failed in turn, a capped, jittered exponential backoff
/// starts: until the next attempt is due, `channel` fails at once instead of
/// hammering brokers that are down. Each new connection first runs the
/// [`Broker::on_new_connection`] hooks. Channels are owned by their users
/// ([`super::Publisher`], [`super::run_consumer`]), which notice a dead
/// channel and ask for a new one.
#[derive(Clone)]
pub struct Broker {
    config: Arc<AmqpConfig>,
    addresses: Arc<BrokerAddresses>,
    state: Arc<Mutex<State>>,
}

struct State {
    connection: Option<Arc<Connection>>,
    /// The node `connection` is on (an index into the addresses).
    node: usize,
    rotation: NodeRotation,
    backoff: Backoff,
    /// After a failed round, no new attempt before this instant.
    retry_at: Option<Instant>,
    last_error: Option<String>,
    hooks: Vec<ConnectHook>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Broker")
            .field("namespace", &self.config.amqp_namespace)
            .field("user", &self.addresses.user())
            .field("nodes", &self.addresses.nodes())
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker handle that connects on first use. Fails only when
    /// `AMQP_URL` is not one or more valid AMQP URLs.
    pub fn new(config: &AmqpConfig) -> anyhow::Result<Self> {
        let addresses = BrokerAddresses::parse(crate::config::expose(&config.amqp_url))
            .map_err(|problem| anyhow!("AMQP_URL {problem}"))?;
        Ok(Self {
            config: Arc::new(config.clone()),
            state: Arc::new(Mutex::new(State {
                connection: None,
                node: 0,
                rotation: NodeRotation::new(addresses.nodes().len()),
                backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
                retry_at: None,
                last_error: None,
                hooks: Vec::new(),
            })),
            addresses: Arc::new(addresses),
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

    /// Runs `hook` on every connection opened from now on, before the
    /// connection is handed out: a service re-declares its topology there,
    /// so its consumers find their queues after a failover. A connection
    /// whose hook fails is closed and counts as a failed attempt on that node.
    pub async fn on_new_connection<F, Fut>(&self, hook: F)
    where
        F: Fn(Channel) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let hook: ConnectHook =
            Arc::new(move |channel| -> BoxFuture<'static, anyhow::Result<()>> {
                Box::pin(hook(channel))
            });
        self.state.lock().await.hooks.push(hook);
    }

    /// The settings this broker was created from.
    pub fn config(&self) -> &AmqpConfig {
        &self.config
    }

    /// The user this broker connects as (from `AMQP_URL`), which every
    /// publish sets as its `user_id` property and RabbitMQ validates.
    pub fn user(&self) -> &str {
        self.addresses.user()
    }

    /// The nodes of `AMQP_URL`, in order.
    pub fn nodes(&self) -> &[BrokerNode] {
        self.addresses.nodes()
    }

    /// The node (`host:port`) of the live connection, if there is one.
    pub async fn connected_node(&self) -> Option<String> {
        let state = self.state.lock().await;
        let connection = state.connection.as_ref()?;
        connection
            .status()
            .connected()
            .then(|| self.addresses.nodes()[state.node].label().to_owned())
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

    /// The live connection, opening a new one if needed: on the node after
    /// the one that was lost, then each other node in turn, until one
    /// answers or all of them failed (then the backoff starts).
    async fn connection(&self) -> anyhow::Result<Arc<Connection>> {
        let mut state = self.state.lock().await;
        if let Some(connection) = &state.connection {
            if connection.status().connected() {
                return Ok(connection.clone());
            }
            let lost = state.node;
            tracing::warn!(
                node = self.addresses.nodes()[lost].label(),
                "amqp connection lost, reconnecting"
            );
            state.connection = None;
            state.rotation.lost(lost);
        }
        if let Some(retry_at) = state.retry_at
            && Instant::now() < retry_at
        {
            let last = state.last_error.clone().unwrap_or_default();
            return Err(anyhow!("broker unavailable (last error: {last})"));
        }
        loop {
            let index = state.rotation.next();
            let node = &self.addresses.nodes()[index];
            let opened = self.open(node, &state.hooks).await;
            match opened {
                Ok(connection) => {
                    tracing::info!(
                        node = node.label(),
                        nodes = self.addresses.nodes().len(),
                        "amqp connected"
                    );
                    let connection = Arc::new(connection);
                    state.connection = Some(connection.clone());
                    state.node = index;
                    state.rotation.connected(index);
                    state.backoff.reset();
                    state.retry_at = None;
                    state.last_error = None;
                    return Ok(connection);
                }
                Err(error) => {
                    let text = format!("{}: {error:#}", node.label());
                    state.last_error = Some(text.clone());
                    if !state.rotation.failed() {
                        tracing::warn!(error = %text, "cannot connect to this rabbitmq node, trying the next");
                        continue;
                    }
                    let delay = state.backoff.next_delay();
                    tracing::warn!(error = %text, retry_in_ms = delay.as_millis(), "cannot connect to rabbitmq");
                    state.retry_at = Some(Instant::now() + delay);
                    return Err(error).context(if self.addresses.nodes().len() > 1 {
                        "connecting to RabbitMQ at AMQP_URL (no node answered)"
                    } else {
                        "connecting to RabbitMQ at AMQP_URL"
                    });
                }
            }
        }
    }

    /// Connects to `node` and runs the hooks on the new connection.
    async fn open(&self, node: &BrokerNode, hooks: &[ConnectHook]) -> anyhow::Result<Connection> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("candor {}", std::process::id()).into());
        let connection = Connection::connect(node.uri(), properties).await?;
        for hook in hooks {
            let ran = async {
                let channel = connection
                    .create_channel()
                    .await
                    .context("opening a channel for the new-connection hook")?;
                hook(channel.clone()).await?;
                if channel.status().connected() {
                    let _ = channel.close(200, "connection prepared".into()).await;
                }
                anyhow::Ok(())
            }
            .await;
            if let Err(error) = ran {
                let _ = connection
                    .close(200, "new-connection hook failed".into())
                    .await;
                return Err(
                    error.context(format!("preparing the new connection to {}", node.label()))
                );
            }
        }
        Ok(connection)
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
            let lost = state.node;
            state.rotation.lost(lost);
        }
    }
}
