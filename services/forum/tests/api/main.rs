//! candor-forum's tests, against the real PostgreSQL and RabbitMQ; each test
//! has its own database and RabbitMQ namespace. The account service is an
//! in-test double answering ValidateSession (`support::accounts`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod error_details;
mod incident;
mod metrics;
mod moderation;
mod paging;
mod permissions;
mod posting;
mod startup;
mod support;
