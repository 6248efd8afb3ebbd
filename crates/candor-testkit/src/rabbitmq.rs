//! RabbitMQ names per test (a unique namespace), optionally with per-test
//! broker users (one per service and an operator, with the permissions of
//! the generated broker definitions), and helpers to publish raw messages
//! and read dead letters. The broker is the test broker
//! (`CANDOR_TEST_AMQP_URL`) or any other, such as the nodes of a
//! [`crate::rabbitmq_cluster::RabbitCluster`] (a comma-separated list of
//! URLs, as `AMQP_URL` takes it).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use candor_platform::config::{AmqpConfig, DeclareTopology};
use candor_platform::messaging::definitions::BrokerDefinitions;
use candor_platform::messaging::{
    BrokerAddresses, QueueSpec, ServiceQueue, Topology, header_string,
};
use candor_platform::sync::lock;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use secrecy::SecretString;

use crate::management::ManagementApi;
use crate::proxy::TcpProxy;

/// Broker the tests use.
pub const AMQP_URL_VAR: &str = "CANDOR_TEST_AMQP_URL";
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A unique namespace (`test-<uuid>`) on the shared broker, so tests run in
/// parallel. Its queues and exchanges (and its users) are deleted on drop
/// (best effort).
///
/// [`TestBroker::new`] uses the test URL's user (`guest`) for everything and
/// makes it the owner of every routing key. [`TestBroker::with_users`]
/// imports the generated broker definitions for the namespace: one user per
/// service and an operator, each with only its own permissions, as a
/// deployment runs.
#[derive(Debug)]
pub struct TestBroker {
    namespace: String,
    /// One AMQP URL, or a comma-separated list of a cluster's nodes.
    url: String,
    /// The helper connection, reopened (on the next node that answers) when
    /// it dropped.
    connection: tokio::sync::Mutex<Option<Connection>>,
    extra_queues: Mutex<BTreeSet<String>>,
    users: Option<TestUsers>,
    /// False for a broker that goes away whole with the test (a test
    /// cluster): nothing to delete, and deleting quorum queues with a node
    /// down only waits for it.
    clean_up_on_drop: bool,
}

/// The per-test users of [`TestBroker::with_users`].
#[derive(Debug)]
struct TestUsers {
    management: ManagementApi,
    /// (user, password) per service, in [`ServiceQueue::ALL`] order.
    services: Vec<(ServiceQueue, String, String)>,
    operator: (String, String),
}

/// A message read back with `basic.get`.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    pub message_type: Option<String>,
    pub headers: FieldTable,
}

impl ReceivedMessage {
    pub fn header(&self, name: &str) -> Option<String> {
        header_string(&self.headers, name)
    }
}

impl Default for TestBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl TestBroker {
    pub fn new() -> Self {
        Self::on(&test_url())
    }

    /// A namespace on the broker at `url` (one URL, or a comma-separated
    /// list of a cluster's nodes) as the user it names, which must be an
    /// administrator.
    pub fn on(url: &str) -> Self {
        Self {
            namespace: format!("test-{}", uuid::Uuid::new_v4().simple()),
            url: url.to_owned(),
            connection: tokio::sync::Mutex::new(None),
            extra_queues: Mutex::new(BTreeSet::new()),
            users: None,
            clean_up_on_drop: true,
        }
    }

    /// Leaves the namespace and users in place on drop, for a broker that is
    /// thrown away with the test (a [`crate::rabbitmq_cluster::RabbitCluster`]).
    pub fn without_cleanup(mut self) -> Self {
        self.clean_up_on_drop = false;
        self
    }

    /// A namespace with its own broker users, created through the
    /// management API from [`BrokerDefinitions`] (which also creates the
    /// exchanges, queues and bindings): `<namespace>-<service>` for each
    /// service and `<namespace>-operator`, with random passwords. Fails with
    /// a clear message when the management API is not reachable.
    pub async fn with_users() -> anyhow::Result<Self> {
        let url = test_url();
        let management = ManagementApi::for_amqp_url(&url)?;
        Self::with_users_on(&url, management).await
    }

    /// Like [`TestBroker::with_users`] on the broker at `url` (see
    /// [`TestBroker::on`]), whose management API is `management`. Every
    /// service and operator URL lists the same nodes in the same order.
    pub async fn with_users_on(url: &str, management: ManagementApi) -> anyhow::Result<Self> {
        let mut broker = Self::on(url);
        let password = || uuid::Uuid::new_v4().simple().to_string();
        let services: Vec<_> = ServiceQueue::ALL
            .into_iter()
            .map(|service| {
                let user = format!("{}-{}", broker.namespace, service.name());
                (service, user, password())
            })
            .collect();
        let operator = (format!("{}-operator", broker.namespace), password());
        let mut definitions = BrokerDefinitions::new(&broker.namespace, &broker.vhost()?);
        for (service, user, password) in &services {
            definitions =
                definitions.service_user(*service, user, &SecretString::from(password.as_str()));
        }
        definitions =
            definitions.operator_user(&operator.0, &SecretString::from(operator.1.as_str()));
        let document = definitions.to_json()?;
        // Record the users first, so drop deletes them even if the import
        // fails half way.
        broker.users = Some(TestUsers {
            management: management.clone(),
            services,
            operator,
        });
        tokio::task::spawn_blocking(move || management.import_definitions(&document))
            .await
            .context("importing the broker definitions")??;
        Ok(broker)
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn topology(&self) -> Topology {
        Topology::new(&self.namespace)
    }

    /// Settings for a platform component under test or a tool: the test
    /// URL's user (`guest`), with the owners of the routing keys set to the
    /// service users of [`TestBroker::with_users`], or else to that same user.
    pub fn config(&self) -> AmqpConfig {
        self.config_for_url(&self.url)
    }

    /// Settings for `service`: its own user and `AMQP_DECLARE_TOPOLOGY=own`
    /// under [`TestBroker::with_users`], else [`TestBroker::config`].
    pub fn service_config(&self, service: ServiceQueue) -> AmqpConfig {
        let Some(users) = &self.users else {
            return self.config();
        };
        let (user, password) = users.service(service);
        let mut config = self.config_for_url(&self.url_for(user, password));
        config.amqp_declare_topology = DeclareTopology::Own;
        config
    }

    /// Settings for the operator (candorctl): its own user under
    /// [`TestBroker::with_users`], else [`TestBroker::config`].
    pub fn operator_config(&self) -> AmqpConfig {
        match &self.users {
            Some(users) => self.config_for_url(&self.url_for(&users.operator.0, &users.operator.1)),
            None => self.config(),
        }
    }

    /// The broker user of `service` (the test URL's user without per-test users).
    pub fn service_user(&self, service: ServiceQueue) -> String {
        match &self.users {
            Some(users) => users.service(service).0.to_owned(),
            None => self.helper_user(),
        }
    }

    fn config_for_url(&self, url: &str) -> AmqpConfig {
        let mut config = AmqpConfig::new(url, &self.namespace);
        config.amqp_account_user = self.service_user(ServiceQueue::Account);
        config.amqp_forum_user = self.service_user(ServiceQueue::Forum);
        config.amqp_notification_user = self.service_user(ServiceQueue::Notification);
        config.amqp_operator_users = vec![match &self.users {
            Some(users) => users.operator.0.clone(),
            None => self.helper_user(),
        }];
        config
    }

    /// The test URL (each node's, for a cluster) with another user and
    /// password.
    fn url_for(&self, user: &str, password: &str) -> String {
        self.url
            .split(',')
            .map(|entry| {
                let mut uri = AMQPUri::from_str(entry.trim()).unwrap_or_default();
                uri.authority.userinfo.username = user.to_owned();
                uri.authority.userinfo.password = password.to_owned();
                uri.to_string()
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The user of the test URL, which the helper connection uses.
    pub fn helper_user(&self) -> String {
        user_of(&self.url)
    }

    fn vhost(&self) -> anyhow::Result<String> {
        let addresses = BrokerAddresses::parse(&self.url).map_err(|error| anyhow!("{error}"))?;
        Ok(addresses.vhost().to_owned())
    }

    /// Starts a [`TcpProxy`] to the broker and returns it with settings that
    /// connect through it, so a test can cut the connection.
    pub async fn proxied_config(&self) -> anyhow::Result<(TcpProxy, AmqpConfig)> {
        let (mut proxies, config) = self.proxied_nodes_config(1).await?;
        let proxy = proxies.pop().context("one proxy")?;
        Ok((proxy, config))
    }

    /// Starts `count` [`TcpProxy`]s to the broker (its first node) and
    /// returns them with settings whose `AMQP_URL` lists them as the nodes
    /// of a cluster, in order, so a test can cut one "node" at a time.
    pub async fn proxied_nodes_config(
        &self,
        count: usize,
    ) -> anyhow::Result<(Vec<TcpProxy>, AmqpConfig)> {
        let first = self.url.split(',').next().unwrap_or_default().trim();
        let mut uri = AMQPUri::from_str(first).map_err(|error| anyhow!("{error}"))?;
        let upstream = tokio::net::lookup_host((uri.authority.host.as_str(), uri.authority.port))
            .await?
            .find(SocketAddr::is_ipv4)
            .context("resolving the broker address")?;
        let mut proxies = Vec::with_capacity(count);
        let mut urls = Vec::with_capacity(count);
        for _ in 0..count {
            let proxy = TcpProxy::start(upstream).await?;
            uri.authority.host = "127.0.0.1".to_owned();
            uri.authority.port = proxy.port();
            urls.push(uri.to_string());
            proxies.push(proxy);
        }
        Ok((proxies, self.config_for_url(&urls.join(","))))
    }

    /// A new channel on the test's own helper connection.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref()
            && connection.status().connected()
        {
            return Ok(connection.create_channel().await?);
        }
        let connection = connect_any(&self.url)
            .await
            .with_context(|| format!("connecting to the test RabbitMQ ({AMQP_URL_VAR})"))?;
        let channel = connection.create_channel().await?;
        *slot = Some(connection);
        Ok(channel)
    }

    /// Declares the exchanges and every service queue, as services do.
    pub async fn declare_all(&self) -> anyhow::Result<()> {
        let channel = self.channel().await?;
        self.topology()
            .declare_all(&channel, &self.config())
            .await?;
        close(channel).await;
        Ok(())
    }

    /// Declares the exchanges and a test queue (with its dead-letter queue);
    /// returns the queue's full name.
    pub async fn declare_queue(&self, spec: &QueueSpec) -> anyhow::Result<String> {
        self.declare_queue_with(spec, &self.config()).await
    }

    /// Like [`TestBroker::declare_queue`] with other settings (queue type).
    pub async fn declare_queue_with(
        &self,
        spec: &QueueSpec,
        config: &AmqpConfig,
    ) -> anyhow::Result<String> {
        let topology = self.topology();
        let channel = self.channel().await?;
        topology.declare_exchanges(&channel).await?;
        lock(&self.extra_queues).insert(spec.name.clone());
        topology.declare_queue(&channel, config, spec).await?;
        close(channel).await;
        Ok(topology.queue_name(&spec.name))
    }

    /// Publishes raw bytes to the events exchange (confirmed, mandatory), as
    /// an operator or a foreign client might, with the helper connection's
    /// user as `user_id` (the owner of every key without per-test users).
    pub async fn publish_raw(
        &self,
        routing_key: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<String> {
        let user = self.helper_user();
        self.publish_with_user_id(routing_key, content_type, body, Some(&user))
            .await
    }

    /// Like [`TestBroker::publish_raw`] with any `user_id`, or none; the
    /// broker refuses one that is not the helper connection's user.
    pub async fn publish_with_user_id(
        &self,
        routing_key: &str,
        content_type: Option<&str>,
        body: &[u8],
        user_id: Option<&str>,
    ) -> anyhow::Result<String> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let mut properties = BasicProperties::default()
            .with_message_id(message_id.as_str().into())
            .with_delivery_mode(2);
        if let Some(content_type) = content_type {
            properties = properties.with_content_type(content_type.into());
        }
        if let Some(user_id) = user_id {
            properties = properties.with_user_id(user_id.into());
        }
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirmation = channel
            .basic_publish(
                self.topology().events_exchange().as_str().into(),
                routing_key.into(),
                options,
                body,
                properties,
            )
            .await?
            .await?;
        close(channel).await;
        if !confirmation.is_ack() {
            bail!("broker nacked the test message");
        }
        if let Some(returned) = confirmation.take_message() {
            bail!("test message unroutable: {}", returned.reply_text);
        }
        Ok(message_id)
    }

    /// Takes (and acks) the next message of a queue (full name), if any.
    pub async fn get(&self, queue: &str) -> anyhow::Result<Option<ReceivedMessage>> {
        let channel = self.channel().await?;
        let message = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .with_context(|| format!("basic.get on {queue}"))?;
        close(channel).await;
        Ok(message.map(|message| {
            let delivery = message.delivery;
            let properties = delivery.properties;
            ReceivedMessage {
                routing_key: delivery.routing_key.to_string(),
                body: delivery.data,
                content_type: properties.content_type().as_ref().map(ToString::to_string),
                message_id: properties.message_id().as_ref().map(ToString::to_string),
                message_type: properties.kind().as_ref().map(ToString::to_string),
                headers: properties.headers().clone().unwrap_or_default(),
            }
        }))
    }

    /// Takes messages from the dead-letter queue of `name` (the queue name
    /// below the namespace) until `count` arrived; fails after `timeout`.
    pub async fn wait_for_dead_letters(
        &self,
        name: &str,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedMessage>> {
        let queue = self.topology().dead_letter_queue_name(name);
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        while received.len() < count {
            match self.get(&queue).await? {
                Some(message) => received.push(message),
                None if Instant::now() >= deadline => {
                    bail!(
                        "{} of {count} dead letters in {queue} after {timeout:?}",
                        received.len()
                    )
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        Ok(received)
    }

    /// Deletes this namespace's queues and exchanges.
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        let connection = connect_any(&self.url).await?;
        delete_namespace(&connection, &self.topology(), &self.queue_names()).await;
        connection.close(200, "test done".into()).await.ok();
        Ok(())
    }

    fn queue_names(&self) -> Vec<String> {
        let extra = lock(&self.extra_queues);
        ServiceQueue::ALL
            .iter()
            .map(|service| service.name().to_owned())
            .chain(extra.iter().cloned())
            .collect()
    }
}

impl TestUsers {
    fn service(&self, service: ServiceQueue) -> (&str, &str) {
        self.services
            .iter()
            .find(|(candidate, _, _)| *candidate == service)
            .map(|(_, user, password)| (user.as_str(), password.as_str()))
            .unwrap_or_default()
    }

    fn names(&self) -> Vec<String> {
        self.services
            .iter()
            .map(|(_, user, _)| user.clone())
            .chain([self.operator.0.clone()])
            .collect()
    }
}

/// The user of the tests' broker URL (`CANDOR_TEST_AMQP_URL`, `guest` by
/// default): the helper connection's user.
pub fn test_user() -> String {
    user_of(&test_url())
}

/// The tests' broker URL (`CANDOR_TEST_AMQP_URL`, the local broker as
/// `guest` by default).
fn test_url() -> String {
    std::env::var(AMQP_URL_VAR).unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

fn user_of(url: &str) -> String {
    BrokerAddresses::parse(url)
        .map(|addresses| addresses.user().to_owned())
        .unwrap_or_else(|_| "guest".to_owned())
}

/// A connection to the first node of `url` (one URL or a comma-separated
/// list) that answers.
async fn connect_any(url: &str) -> anyhow::Result<Connection> {
    let mut last_error = None;
    for entry in url.split(',').map(str::trim) {
        match Connection::connect(entry, ConnectionProperties::default()).await {
            Ok(connection) => return Ok(connection),
            Err(error) => last_error = Some(error),
        }
    }
    match last_error {
        Some(error) => Err(error.into()),
        None => bail!("no broker URL"),
    }
}

/// The AMQP settings of `config` as environment variables, for a service
/// started as a binary.
pub fn amqp_settings(config: &AmqpConfig) -> Vec<(&'static str, String)> {
    let declare = match config.amqp_declare_topology {
        DeclareTopology::All => "all",
        DeclareTopology::Own => "own",
    };
    vec![
        (
            "AMQP_URL",
            candor_platform::config::expose(&config.amqp_url).to_owned(),
        ),
        ("AMQP_NAMESPACE", config.amqp_namespace.clone()),
        ("AMQP_DECLARE_TOPOLOGY", declare.to_owned()),
        ("AMQP_ACCOUNT_USER", config.amqp_account_user.clone()),
        ("AMQP_FORUM_USER", config.amqp_forum_user.clone()),
        (
            "AMQP_NOTIFICATION_USER",
            config.amqp_notification_user.clone(),
        ),
        ("AMQP_OPERATOR_USERS", config.amqp_operator_users.join(",")),
    ]
}

/// The AMQP settings of `config` as command-line flags.
pub fn amqp_flags(config: &AmqpConfig) -> Vec<String> {
    amqp_settings(config)
        .into_iter()
        .map(|(name, value)| {
            let flag = name.to_ascii_lowercase().replace('_', "-");
            format!("--{flag}={value}")
        })
        .collect()
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if !self.clean_up_on_drop {
            return;
        }
        if let Some(users) = &self.users {
            let management = users.management.clone();
            let names = users.names();
            // Blocking HTTP: on its own thread, as drop may run in a runtime.
            let deleter = std::thread::spawn(move || {
                for name in names {
                    if let Err(error) = management.delete_user(&name) {
                        eprintln!("test broker: {error:#}");
                    }
                }
            });
            let _ = deleter.join();
        }
        let url = self.url.clone();
        let topology = self.topology();
        let names = self.queue_names();
        // Drop may run inside a tokio runtime: clean up on a thread with its own.
        let cleaner = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(connection) = connect_any(&url).await else {
                    return;
                };
                delete_namespace(&connection, &topology, &names).await;
                connection.close(200, "test done".into()).await.ok();
            });
        });
        let _ = cleaner.join();
    }
}

async fn delete_namespace(connection: &Connection, topology: &Topology, names: &[String]) {
    let mut queues = Vec::new();
    for name in names {
        queues.push(topology.queue_name(name));
        queues.push(topology.dead_letter_queue_name(name));
    }
    for queue in queues {
        // A failed delete closes the channel, so use one per operation.
        if let Ok(channel) = connection.create_channel().await {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await
                .ok();
            close(channel).await;
        }
    }
    for exchange in [topology.events_exchange(), topology.dead_letter_exchange()] {
        if let Ok(channel) = connection.create_channel().await {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await
                .ok();
            close(channel).await;
        }
    }
}

async fn close(channel: Channel) {
    if channel.status().connected() {
        channel.close(200, "done".into()).await.ok();
    }
}

/// A text header value, for tests that publish with headers.
pub fn text_header(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}
