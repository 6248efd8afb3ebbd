//! candor-account's tests, against the real PostgreSQL and RabbitMQ; each test
//! has its own database and RabbitMQ namespace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod breach;
mod error_details;
mod held_data;
mod helpers;
mod import;
mod incident_list;
mod intake;
mod members;
mod metrics;
mod notices;
mod notification_deadline;
mod passwords;
mod permissions;
mod reset;
mod resume;
mod sessions;
mod startup;
