//! RabbitMQ: topology, a confirming publisher, a consumer loop, and the W3C
//! trace context carried in AMQP headers.
//!
//! One [`Broker`] per process owns the AMQP connection and reopens it with
//! backoff when it drops. A [`Publisher`] keeps one confirm-mode channel and
//! treats a nack or a return as an error. [`run_consumer`] drives a
//! [`MessageHandler`] with bounded concurrency, acks only after the handler
//! returned `Ok` (the handler commits its own transaction first), retries
//! transient failures, dead-letters with the reason in `x-candor-error`, and
//! resumes by itself after the broker comes back.
//!
//! ```text
//! let broker = Broker::connect(&config.amqp).await?;
//! let topology = Topology::new(&config.amqp.amqp_namespace);
//! topology.declare_all(&broker.channel().await?, &config.amqp).await?;
//! let publisher = Publisher::new(broker.clone());            // or the outbox relay
//! tokio::spawn(OutboxRelay::new(pool.clone(), publisher).run(shutdown.clone()));
//! let queue = topology.queue_name(ServiceQueue::Account.name());
//! run_consumer(&broker, &queue, Arc::new(handler), ConsumerOptions::default(), shutdown).await?;
//! ```

mod backoff;
mod connection;
mod consumer;
mod dead_letter;
pub mod definitions;
mod message;
pub mod ownership;
mod permissions;
mod publisher;
mod topology;
pub mod trace_context;

pub use backoff::Backoff;
pub use connection::Broker;
pub use consumer::{ConsumerOptions, MessageHandler, run_consumer};
pub use message::{
    CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, HEADER_ATTEMPTS, HEADER_ERROR,
    HEADER_ORIGINAL_ROUTING_KEY, HEADER_ORIGINAL_USER_ID, HandlerError, IncomingMessage,
    OutgoingMessage, header_string,
};
pub use ownership::{EventOwner, RoutingPolicy};
pub use permissions::{UserPermissions, UserRole};
pub use publisher::{PublishError, Publisher};
pub use topology::{QueueSpec, ServiceQueue, Topology};
