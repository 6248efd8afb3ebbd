//! Exchanges, queues and bindings: the routing contract of DESIGN.md.

use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED,
    FORUM_INCIDENT_THREAD_OPENED, NOTIFICATION_NOTICE_UNDELIVERED,
};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use std::sync::Arc;

use anyhow::Context;

use crate::config::{AmqpConfig, DeclareTopology, QueueType};
use futures::future::BoxFuture;

/// The queue each service consumes, with the routing keys bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceQueue {
    Account,
    Notification,
    Membership,
    Forum,
}

impl ServiceQueue {
    pub const ALL: [ServiceQueue; 4] = [
        ServiceQueue::Account,
        ServiceQueue::Notification,
        ServiceQueue::Membership,
        ServiceQueue::Forum,
    ];

    /// The queue name below the namespace (`<namespace>.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            ServiceQueue::Account => "account",
            ServiceQueue::Notification => "notification",
            ServiceQueue::Membership => "membership",
            ServiceQueue::Forum => "forum",
        }
    }

    /// The routing keys this service consumes (the table in DESIGN.md).
    pub fn routing_keys(self) -> &'static [&'static str] {
        match self {
            ServiceQueue::Account => &[
                BREACH_REPORTED,
                FORUM_INCIDENT_THREAD_OPENED,
                NOTIFICATION_NOTICE_UNDELIVERED,
            ],
            ServiceQueue::Notification => &[
                BREACH_REPORTED,
                BREACH_ACCOUNTS_AFFECTED,
                BREACH_ENUMERATION_COMPLETED,
                FORUM_INCIDENT_THREAD_OPENED,
                ACCOUNT_DEACTIVATED,
            ],
            ServiceQueue::Membership => &[
                BREACH_REPORTED,
                BREACH_ACCOUNTS_AFFECTED,
                BREACH_ENUMERATION_COMPLETED,
                ACCOUNT_DEACTIVATED,
            ],
            ServiceQueue::Forum => &[BREACH_REPORTED, ACCOUNT_DEACTIVATED],
        }
    }

    pub fn spec(self) -> QueueSpec {
        QueueSpec::new(self.name(), self.routing_keys().iter().copied())
    }

    /// The service called `name` (`account`, …), if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|service| service.name() == name)
    }
}

/// A queue argument as AMQP and the broker definitions file both carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueueArgument {
    Text(String),
    Integer(i64),
}

/// The queue settings that shape a queue's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueSettings {
    pub(crate) queue_type: QueueType,
    pub(crate) delivery_limit: u32,
}

impl QueueSettings {
    pub(crate) fn from_config(config: &AmqpConfig) -> Self {
        Self {
            queue_type: config.amqp_queue_type,
            delivery_limit: config.amqp_delivery_limit,
        }
    }
}

/// Any queue: a name below the namespace and the routing keys (topic
/// patterns allowed) bound to it. Tests declare their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub routing_keys: Vec<String>,
}

impl QueueSpec {
    pub fn new<K: Into<String>>(
        name: impl Into<String>,
        routing_keys: impl IntoIterator<Item = K>,
    ) -> Self {
        Self {
            name: name.into(),
            routing_keys: routing_keys.into_iter().map(Into::into).collect(),
        }
    }
}

/// The names of one deployment's exchanges and queues, all below a namespace
/// (`candor` in production, a unique one per test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    namespace: String,
}

impl Topology {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
        }
    }

    /// The durable topic exchange every event is published to.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.namespace)
    }

    /// The durable direct exchange dead letters go to, routed by queue name.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.namespace)
    }

    /// `<namespace>.<name>`.
    pub fn queue_name(&self, name: &str) -> String {
        format!("{}.{name}", self.namespace)
    }

    /// `<namespace>.<name>.dead-letter`.
    pub fn dead_letter_queue_name(&self, name: &str) -> String {
        format!("{}.{name}.dead-letter", self.namespace)
    }

    /// `<namespace>.dead-letter-watch.<id>`: an operator's exclusive,
    /// short-lived queue bound to the dead-letter exchange, which receives a
    /// copy of every dead letter while `candorctl breach report` waits for
    /// the services' answers (reading the dead-letter queues themselves
    /// would requeue their messages, which counts against a quorum queue's
    /// delivery limit). `id` is letters, digits and `-`.
    pub fn dead_letter_watch_queue_name(&self, id: &str) -> String {
        format!("{}.{id}", self.dead_letter_watch_prefix())
    }

    /// What every [`Topology::dead_letter_watch_queue_name`] starts with,
    /// before the `.` and the id.
    pub(crate) fn dead_letter_watch_prefix(&self) -> String {
        format!("{}.dead-letter-watch", self.namespace)
    }

    /// Declares what `AMQP_DECLARE_TOPOLOGY` says `service` declares: the
    /// whole topology (`all`), or its own queues and bindings after checking
    /// that both exchanges exist (`own`, for a user that may configure only
    /// its own queues; the broker definitions create the rest).
    pub async fn declare_for(
        &self,
        channel: &Channel,
        config: &AmqpConfig,
        service: ServiceQueue,
    ) -> anyhow::Result<()> {
        match config.amqp_declare_topology {
            DeclareTopology::All => self.declare_all(channel, config).await,
            DeclareTopology::Own => {
                self.check_exchanges(channel).await?;
                self.declare_queue(channel, config, &service.spec()).await
            }
        }
    }

    /// [`Topology::declare_for`] as a [`super::Broker::on_new_connection`]
    /// hook, so a service's topology is declared again on every connection.
    pub fn declare_hook(
        &self,
        config: &AmqpConfig,
        service: ServiceQueue,
    ) -> impl Fn(Channel) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync + 'static {
        let topology = self.clone();
        let config = Arc::new(config.clone());
        move |channel: Channel| -> BoxFuture<'static, anyhow::Result<()>> {
            let topology = topology.clone();
            let config = config.clone();
            Box::pin(async move {
                topology
                    .declare_for(&channel, &config, service)
                    .await
                    .context("declaring the RabbitMQ topology (AMQP_DECLARE_TOPOLOGY)")
            })
        }
    }

    /// Checks that both exchanges exist (a passive declare, which needs no
    /// permission); fails naming the missing one.
    pub async fn check_exchanges(&self, channel: &Channel) -> anyhow::Result<()> {
        let passive = ExchangeDeclareOptions {
            passive: true,
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for (exchange, kind) in [
            (self.events_exchange(), ExchangeKind::Topic),
            (self.dead_letter_exchange(), ExchangeKind::Direct),
        ] {
            channel
                .exchange_declare(short(&exchange)?, kind, passive, FieldTable::default())
                .await
                .with_context(|| {
                    format!(
                        "exchange {exchange} does not exist (AMQP_DECLARE_TOPOLOGY=own expects the broker definitions to create it)"
                    )
                })?;
        }
        Ok(())
    }

    /// Declares both exchanges and every service's queue with its bindings,
    /// so that a mandatory publish is routable whichever service started
    /// first. Idempotent: every service calls it at start. Fails (and the
    /// broker closes `channel`) if a queue already exists with other
    /// arguments, e.g. after changing `AMQP_QUEUE_TYPE`.
    #[tracing::instrument(skip_all, fields(namespace = %self.namespace))]
    pub async fn declare_all(&self, channel: &Channel, config: &AmqpConfig) -> anyhow::Result<()> {
        self.declare_exchanges(channel).await?;
        for service in ServiceQueue::ALL {
            self.declare_queue(channel, config, &service.spec()).await?;
        }
        Ok(())
    }

    pub async fn declare_exchanges(&self, channel: &Channel) -> anyhow::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let events = self.events_exchange();
        channel
            .exchange_declare(
                short(&events)?,
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("declaring exchange {events}"))?;
        let dlx = self.dead_letter_exchange();
        channel
            .exchange_declare(
                short(&dlx)?,
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("declaring exchange {dlx}"))?;
        Ok(())
    }

    /// Declares `spec`'s queue bound to the events exchange and its
    /// dead-letter queue bound to the dead-letter exchange. The exchanges
    /// must exist ([`Topology::declare_exchanges`]).
    pub async fn declare_queue(
        &self,
        channel: &Channel,
        config: &AmqpConfig,
        spec: &QueueSpec,
    ) -> anyhow::Result<()> {
        let queue = self.queue_name(&spec.name);
        let dead_letter_queue = self.dead_letter_queue_name(&spec.name);
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };

        channel
            .queue_declare(
                short(&dead_letter_queue)?,
                durable,
                queue_type_arguments(config),
            )
            .await
            .with_context(|| format!("declaring queue {dead_letter_queue}"))?;
        channel
            .queue_bind(
                short(&dead_letter_queue)?,
                short(&self.dead_letter_exchange())?,
                short(&queue)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("binding queue {dead_letter_queue}"))?;

        channel
            .queue_declare(
                short(&queue)?,
                durable,
                self.queue_arguments(config, &queue),
            )
            .await
            .with_context(|| format!("declaring queue {queue}"))?;
        for routing_key in &spec.routing_keys {
            channel
                .queue_bind(
                    short(&queue)?,
                    short(&self.events_exchange())?,
                    short(routing_key)?,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .with_context(|| format!("binding queue {queue} to {routing_key}"))?;
        }
        Ok(())
    }

    /// Arguments of a consumed queue: its type, and the broker's own
    /// dead-lettering (used when the delivery limit is hit, i.e. a message
    /// that crashes or hangs its consumer every time) to the same
    /// dead-letter queue the consumer uses.
    fn queue_arguments(&self, config: &AmqpConfig, queue: &str) -> FieldTable {
        field_table(self.consumed_queue_arguments(QueueSettings::from_config(config), queue))
    }

    /// The arguments of a consumed queue, shared with the broker
    /// definitions so that a service's own declare matches what the
    /// definitions created (RabbitMQ refuses a redeclare with other ones).
    pub(crate) fn consumed_queue_arguments(
        &self,
        settings: QueueSettings,
        queue: &str,
    ) -> Vec<(&'static str, QueueArgument)> {
        let mut arguments = queue_type_argument_list(settings);
        arguments.push((
            "x-dead-letter-exchange",
            QueueArgument::Text(self.dead_letter_exchange()),
        ));
        arguments.push((
            "x-dead-letter-routing-key",
            QueueArgument::Text(queue.to_owned()),
        ));
        if settings.queue_type == QueueType::Quorum {
            // RabbitMQ 3.10 has no default delivery limit; 4.x defaults to 20.
            arguments.push((
                "x-delivery-limit",
                QueueArgument::Integer(i64::from(settings.delivery_limit)),
            ));
            // At-least-once dead-lettering (3.10+) keeps a message until the
            // dead-letter queue confirmed it; it requires reject-publish.
            arguments.push((
                "x-dead-letter-strategy",
                QueueArgument::Text("at-least-once".to_owned()),
            ));
            arguments.push((
                "x-overflow",
                QueueArgument::Text("reject-publish".to_owned()),
            ));
        }
        arguments
    }
}

/// The arguments of a dead-letter queue: only its type.
pub(crate) fn queue_type_argument_list(
    settings: QueueSettings,
) -> Vec<(&'static str, QueueArgument)> {
    let queue_type = match settings.queue_type {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    vec![("x-queue-type", QueueArgument::Text(queue_type.to_owned()))]
}

fn queue_type_arguments(config: &AmqpConfig) -> FieldTable {
    field_table(queue_type_argument_list(QueueSettings::from_config(config)))
}

fn field_table(arguments: Vec<(&'static str, QueueArgument)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in arguments {
        let value = match value {
            QueueArgument::Text(text) => long(&text),
            QueueArgument::Integer(number) => AMQPValue::LongLongInt(number),
        };
        table.insert(name.into(), value);
    }
    table
}

fn long(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// An AMQP short string, refusing names over 255 bytes instead of panicking.
pub(crate) fn short(value: &str) -> anyhow::Result<ShortString> {
    ShortString::try_new(value).with_context(|| format!("AMQP name too long: {value:.40}…"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_namespace() {
        let topology = Topology::new("candor");
        assert_eq!(topology.events_exchange(), "candor.events");
        assert_eq!(topology.dead_letter_exchange(), "candor.dlx");
        assert_eq!(topology.queue_name("account"), "candor.account");
        assert_eq!(
            topology.dead_letter_queue_name("account"),
            "candor.account.dead-letter"
        );
    }

    #[test]
    fn notification_consumes_every_routing_key_but_its_own() {
        assert_eq!(
            ServiceQueue::Notification.routing_keys().len(),
            candor_proto::events::v1::ROUTING_KEYS.len() - 1
        );
        assert!(
            !ServiceQueue::Notification
                .routing_keys()
                .contains(&candor_proto::events::v1::NOTIFICATION_NOTICE_UNDELIVERED)
        );
    }
}
