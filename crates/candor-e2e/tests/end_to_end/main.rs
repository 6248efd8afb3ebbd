//! The whole breach response end to end: all four services, the real
//! PostgreSQL and RabbitMQ, the testkit SMTP sink, and candorctl's own code
//! path for everything an operator does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod breach_response;
mod forged_events;
mod mail;
