//! Candor on a three-node RabbitMQ cluster of the test's own
//! (`candor_testkit::rabbitmq_cluster`): the whole in-process stack with
//! quorum queues replicated on the three nodes and every service's
//! `AMQP_URL` listing them, a breach of 20,000 members, and a node lost half
//! way: the node leading the queues, or the node the services are connected
//! to. Nothing may be lost or doubled, and every service must be consuming
//! again on a node that is still up.
//!
//! The nodes need RabbitMQ's own scripts on this machine (see
//! `rabbitmq_cluster`); the shared broker on 5672 is not touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lose_a_node;
