//! candor-notification: breach notices and transactional email, delivered over SMTP at a controlled rate.
//!
//! [`App::build`] starts the service (database and migrations, RabbitMQ
//! topology, gRPC listener) and [`App::run_until`] serves it until the
//! shutdown future resolves. `main.rs` and the tests both go through here.

use std::future::Future;
use std::net::SocketAddr;

use candor_platform::grpc::GrpcServer;
use candor_platform::service::Foundation;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

mod config;

pub use config::Config;

/// The binary's name, also the service name in logs and traces.
pub const BINARY_NAME: &str = "candor-notification";

/// This service's own schema; the outbox table comes from candor-platform.
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A started candor-notification, ready to serve.
pub struct App {
    foundation: Foundation,
}

impl App {
    /// Connects, migrates, declares queues and binds `GRPC_ADDR`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation =
            Foundation::start(BINARY_NAME, &config.common, config.grpc_addr, &MIGRATIONS).await?;
        Ok(Self { foundation })
    }

    /// Where the gRPC server listens.
    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.foundation.local_addr()
    }

    /// The service's database pool.
    pub fn pool(&self) -> &PgPool {
        &self.foundation.pool
    }

    /// Serves until `shutdown` resolves, then drains and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grpc = GrpcServer::new()?;
        self.foundation.run(grpc, Vec::new(), shutdown).await
    }
}
