//! Integration tests of the platform crate against the real PostgreSQL and
//! RabbitMQ (one test binary; each test uses its own database and namespace).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_trust;
mod config;
mod dead_letter_watch;
mod failover;
mod grpc;
mod grpc_limits;
mod grpc_tls;
mod messaging;
mod metrics;
mod outbox;
mod parking;
mod permissions;
mod telemetry;
