//! RabbitMQ: topology, a confirming publisher, a consumer loop, who may
//! publish what, the broker definitions generated from all that, and the
//! W3C trace context carried in AMQP headers.
//!
//! One [`Broker`] per process owns the AMQP connection; `AMQP_URL` may list
//! the nodes of a cluster ([`BrokerAddresses`]), and the broker moves to the
//! next node when its connection drops, re-running its new-connection hooks
//! (the service's topology), with backoff once every node failed. A [`Publisher`] keeps one confirm-mode channel,
//! sets the connection's user as every message's `user_id` (which RabbitMQ
//! validates), and treats a nack or a return as an error. [`run_consumer`]
//! first checks each message's routing key, size and `user_id` against the
//! [`RoutingPolicy`] (the owners of [`ownership::ROUTES`]) and dead-letters
//! what fails, then drives a [`MessageHandler`] with bounded concurrency,
//! acks only after the handler returned `Ok` (the handler commits its own
//! transaction first), retries transient failures, dead-letters with the
//! reason in `x-candor-error`, and resumes by itself after the broker comes
//! back. [`definitions::BrokerDefinitions`] turns the topology and the
//! ownership table into RabbitMQ users, permissions and topic permissions.
//!
//! ```text
//! let broker = Broker::connect(&config.amqp).await?;
//! let topology = Topology::new(&config.amqp.amqp_namespace);
//! topology.declare_for(&broker.channel().await?, &config.amqp, ServiceQueue::Account).await?;
//! let publisher = Publisher::new(broker.clone());            // or the outbox relay
//! tokio::spawn(OutboxRelay::new(pool.clone(), publisher).run(shutdown.clone()));
//! let queue = topology.queue_name(ServiceQueue::Account.name());
//! run_consumer(&broker, &queue, Arc::new(handler), ConsumerOptions::default(), shutdown).await?;
//! ```

mod addresses;
mod backoff;
mod connection;
mod consumer;
mod dead_letter;
mod dead_letter_watch;
pub mod definitions;
mod message;
pub mod ownership;
mod permissions;
mod publisher;
mod topology;
pub mod trace_context;

pub use addresses::{BrokerAddresses, BrokerNode};
pub use backoff::Backoff;
pub use connection::Broker;
pub use consumer::{ConsumerOptions, MessageHandler, run_consumer};
pub use dead_letter_watch::{DeadLetterWatch, WatchedDeadLetter};
pub use message::{
    CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, HEADER_ATTEMPTS, HEADER_DEAD_LETTERED_AT,
    HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY, HEADER_ORIGINAL_USER_ID, HEADER_REPLAYS,
    HandlerError, IncomingMessage, OutgoingMessage, header_string,
};
pub use ownership::{EventOwner, RoutingPolicy};
pub use permissions::{UserPermissions, UserRole};
pub use publisher::{PublishError, Publisher};
pub(crate) use topology::short;
pub use topology::{QueueSpec, ServiceQueue, Topology};
