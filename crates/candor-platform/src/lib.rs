//! What every Candor service shares and nothing more: configuration,
//! telemetry, gRPC serving, PostgreSQL, RabbitMQ, the transactional outbox
//! and incident parking.
//!
//! A service's `main.rs` reads like this:
//!
//! ```text
//! let config = candor_platform::config::parse_or_exit::<Config>("candor-account");
//! let telemetry = candor_platform::telemetry::init("candor-account", &config.telemetry)?;
//! let app = candor_account::App::build(config).await?;
//! app.run_until(candor_platform::shutdown::signal()).await?;
//! telemetry.shutdown();
//! ```

pub mod auth;
pub mod config;
pub mod db;
pub mod grpc;
pub mod links;
pub mod messaging;
pub mod outbox;
pub mod parking;
pub mod service;
pub mod shutdown;
pub mod sync;
pub mod telemetry;
pub mod validation;
