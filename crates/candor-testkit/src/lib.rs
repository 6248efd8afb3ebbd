//! Test helpers for Candor: a fresh PostgreSQL database per test, RabbitMQ
//! names per test, a three-node RabbitMQ cluster of a test's own, a TCP
//! proxy that can cut a connection, an SMTP sink that records every message,
//! services started in-process on random ports, and their metrics endpoints
//! read back and checked with promtool (and what metrics cost a service,
//! measured on and off in one benchmark run).
//!
//! Every test talks to the real PostgreSQL and RabbitMQ of the machine
//! (`CANDOR_TEST_DATABASE_URL`, `CANDOR_TEST_AMQP_URL`; defaults are the local
//! trust-auth PostgreSQL and guest RabbitMQ).

pub mod binary;
pub mod conformance;
pub mod database;
pub mod environment;
pub mod error_details;
pub mod management;
pub mod metrics;
pub mod overhead;
pub mod permissions;
pub mod poll;
pub mod proxy;
pub mod rabbitmq;
pub mod rabbitmq_cluster;
pub mod service;
pub mod smtp;
pub mod storage;
pub mod tls;
pub mod tracing;
