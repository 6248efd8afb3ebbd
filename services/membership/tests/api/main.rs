//! candor-membership's tests, against the real PostgreSQL and RabbitMQ; each test
//! has its own database and RabbitMQ namespace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compensation;
mod error_details;
mod grants;
mod helpers;
mod metrics;
mod permissions;
mod startup;
mod upgrade;
