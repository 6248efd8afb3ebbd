//! candor-membership: membership tiers and the exactly-once credit ledger.
//!
//! [`App::build`] starts the service (database and migrations, RabbitMQ
//! topology, gRPC listener) and [`App::run_until`] serves it until the
//! shutdown future resolves. `main.rs` and the tests both go through here.
//!
//! - `consumers`: the `candor.membership` queue (breach compensation,
//!   enumeration totals, deactivations);
//! - `grpc`: the `MembershipService` API, one file per RPC;
//! - `errors`: each RPC's errors and their kinds;
//! - `store`: PostgreSQL, one module per table group;
//! - `domain`: tiers and the ledger replay, without storage;
//! - `metrics`: the service's own Prometheus families.

use std::future::Future;
use std::sync::Arc;

use candor_platform::auth::{SessionCache, SessionResolver};
use candor_platform::messaging::{ConsumerOptions, ServiceQueue};
use candor_platform::parking::ParkingOptions;
use candor_platform::service::{BackgroundTask, Foundation, ServiceApp};
use candor_proto::membership::v1::membership_service_server::MembershipServiceServer;
use sqlx::migrate::Migrator;

mod config;
mod consumers;
pub mod domain;
mod errors;
mod grpc;
mod metrics;
pub mod store;

pub use config::Config;

/// The binary's name, also the service name in logs and traces.
pub const BINARY_NAME: &str = "candor-membership";

/// This service's own schema; the outbox table comes from candor-platform.
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A started candor-membership, ready to serve.
pub struct App {
    foundation: Foundation,
    api: grpc::MembershipApi,
    consumer_concurrency: usize,
    parking: ParkingOptions,
}

impl App {
    /// Connects, migrates, declares queues and binds `GRPC_ADDR`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let foundation = Foundation::start(
            BINARY_NAME,
            &config.common,
            candor_platform::service::Listen {
                grpc: config.grpc_addr,
                metrics: config.metrics_addr,
            },
            &MIGRATIONS,
        )
        .await?;
        // Every call asks the account service: a revoked session is refused
        // at once.
        let sessions = Arc::new(SessionResolver::new(
            foundation.tls.service_connection(
                &config.account_grpc_url,
                &config.common.auth.service_token,
                "ACCOUNT_GRPC_URL",
            )?,
            SessionCache::OFF,
        ));
        let api = grpc::MembershipApi::new(foundation.pool.clone(), sessions);
        metrics::register_incident_progress(&foundation.metrics, foundation.pool.clone())?;
        Ok(Self {
            foundation,
            api,
            consumer_concurrency: usize::from(config.consumer_concurrency),
            parking: ParkingOptions::from_config(&config.parking),
        })
    }

    /// Serves until `shutdown` resolves, then drains and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let max_message = self.foundation.common.server.max_message_bytes();
        let grpc = self.foundation.grpc_server()?.add_service(
            MembershipServiceServer::new(self.api)
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
        );
        let parking = self
            .foundation
            .parking(ServiceQueue::Membership, self.parking.clone());
        let handler = Arc::new(consumers::MembershipEvents::new(
            self.foundation.pool.clone(),
            parking.clone(),
        ));
        let options = ConsumerOptions::default().with_concurrency(self.consumer_concurrency);
        let tasks: Vec<BackgroundTask> = vec![
            self.foundation
                .consumer(ServiceQueue::Membership, handler.clone(), options),
            parking.sweeper(handler),
        ];
        self.foundation.run(grpc, tasks, shutdown).await
    }
}

impl ServiceApp for App {
    fn foundation(&self) -> &Foundation {
        &self.foundation
    }
}
