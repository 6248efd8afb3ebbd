//! What every Candor service shares and nothing more: configuration,
//! telemetry, gRPC serving (identity, permissions, limits), PostgreSQL,
//! RabbitMQ (trusted publishers, consumers, dead letters), the transactional
//! outbox, incident parking and input validation.
//!
//! A service's `main.rs` is one call to [`service::main`], which parses the
//! configuration (one line and exit 64 on a bad setting), starts telemetry,
//! runs the app until SIGTERM or Ctrl-C and flushes telemetry at exit:
//!
//! ```text
//! fn main() -> ExitCode {
//!     candor_platform::service::main::<Config, _, _, _>(
//!         candor_account::BINARY_NAME,
//!         |config| &config.common.telemetry,
//!         |config, shutdown| async move { App::build(config).await?.run_until(shutdown).await },
//!     )
//! }
//! ```
//!
//! `App::build` starts a [`service::Foundation`] (database and migrations,
//! broker and topology, gRPC listener) and adds the service's own gRPC
//! services, consumers and workers; `run_until` calls
//! [`service::Foundation::run`].

pub mod auth;
pub mod config;
pub mod db;
pub mod grpc;
pub mod links;
pub mod messaging;
pub mod metrics;
pub mod outbox;
pub mod parking;
pub mod service;
pub mod shutdown;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod validation;
