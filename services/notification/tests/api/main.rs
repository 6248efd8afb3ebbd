//! candor-notification's tests, against the real PostgreSQL and RabbitMQ; each test
//! has its own database and RabbitMQ namespace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod crash;
mod delivery;
mod delivery_reports;
mod error_details;
mod failures;
mod helpers;
mod intake;
mod intake_reports;
mod intake_support;
mod leases;
mod member_notices;
mod metrics;
mod notices;
mod permissions;
mod sending_health;
mod startup;
mod transport;
mod undelivered;
mod unencodable;
mod upgrade;
