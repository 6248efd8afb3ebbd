//! candor-client against the four services running in-process (the real
//! PostgreSQL and RabbitMQ): credentials, error details, deadlines,
//! retries and mutual TLS as a caller meets them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deadlines;
mod mutual_tls;
mod plain;

use secrecy::SecretString;

/// The operator's token the in-process stack accepts.
fn operator_token() -> SecretString {
    SecretString::from(candor_testkit::environment::OPERATOR_TOKEN)
}
