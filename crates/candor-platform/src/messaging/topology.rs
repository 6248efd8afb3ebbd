//! Exchanges, queues and bindings: the routing contract of DESIGN.md.

use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED,
    FORUM_INCIDENT_THREAD_OPENED,
};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use anyhow::Context;

use crate::config::{AmqpConfig, QueueType};

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
            ServiceQueue::Account => &[BREACH_REPORTED],
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
        let mut arguments = queue_type_arguments(config);
        arguments.insert(
            "x-dead-letter-exchange".into(),
            long(&self.dead_letter_exchange()),
        );
        arguments.insert("x-dead-letter-routing-key".into(), long(queue));
        if config.amqp_queue_type == QueueType::Quorum {
            // RabbitMQ 3.10 has no default delivery limit; 4.x defaults to 20.
            arguments.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(i64::from(config.amqp_delivery_limit)),
            );
            // At-least-once dead-lettering (3.10+) keeps a message until the
            // dead-letter queue confirmed it; it requires reject-publish.
            arguments.insert("x-dead-letter-strategy".into(), long("at-least-once"));
            arguments.insert("x-overflow".into(), long("reject-publish"));
        }
        arguments
    }
}

fn queue_type_arguments(config: &AmqpConfig) -> FieldTable {
    let queue_type = match config.amqp_queue_type {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), long(queue_type));
    arguments
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
    fn notification_consumes_every_routing_key() {
        assert_eq!(
            ServiceQueue::Notification.routing_keys().len(),
            candor_proto::events::v1::ROUTING_KEYS.len()
        );
    }
}
