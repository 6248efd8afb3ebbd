//! candor-account: members, roles, passwords, sessions and the affected set of each incident.
//!
//! [`App::build`] starts the service (database and migrations, RabbitMQ
//! topology, gRPC listener) and [`App::run_until`] serves it until the
//! shutdown future resolves. `main.rs` and the tests both go through here.

use std::future::Future;

use std::time::Duration;

use candor_platform::links::PublicLinks;
use candor_platform::messaging::{ConsumerOptions, ServiceQueue};
use candor_platform::parking::ParkingOptions;
use candor_platform::service::{BackgroundTask, Foundation, ServiceApp};
use candor_proto::account::v1::account_service_server::AccountServiceServer;
use sqlx::migrate::Migrator;

mod config;
pub mod consumers;
mod convert;
mod domain;
mod errors;
mod grpc;
mod metrics;
mod notifier;
mod password;
mod store;

pub use config::Config;

use consumers::AccountEvents;
use grpc::{AccountApi, Settings, Shared};
use notifier::Notifier;
use password::cost::Argon2Ceiling;
use password::{LegacyKey, PasswordHasher, PasswordPolicy};

/// The binary's name, also the service name in logs and traces.
pub const BINARY_NAME: &str = "candor-account";

/// This service's own schema; the outbox table comes from candor-platform.
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A started candor-account, ready to serve.
pub struct App {
    foundation: Foundation,
    api: AccountApi,
    /// How notice reports that arrive before their incident wait for it.
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
        metrics::register_incident_progress(&foundation.metrics, foundation.pool.clone())?;
        let hasher = PasswordHasher::new(
            config.password_hashing_concurrency,
            LegacyKey::new(config.legacy_hash_key.clone()),
            Argon2Ceiling {
                memory_kib: config.argon2_max_memory_kib,
                iterations: config.argon2_max_iterations,
                parallelism: config.argon2_max_parallelism,
            },
            metrics::PasswordHashMetrics::register(&foundation.metrics)?,
        )?;
        let password_policy = PasswordPolicy::new(
            config.pwned_passwords_url.as_deref(),
            Duration::from_millis(config.pwned_passwords_timeout_ms),
        )?;
        let notifier = Notifier::new(&foundation.tls.service_connection(
            &config.notification_grpc_url,
            &config.common.auth.service_token,
            "NOTIFICATION_GRPC_URL",
        )?);
        let api = AccountApi::new(Shared {
            pool: foundation.pool.clone(),
            hasher,
            password_policy,
            notifier,
            notice_metrics: metrics::NoticeMetrics::register(&foundation.metrics)?,
            settings: Settings {
                session_ttl_seconds: config.session_ttl_seconds,
                login_failures_per_account: config.login_failures_per_account,
                login_failures_per_address: config.login_failures_per_address,
                requests_per_address_per_hour: config.requests_per_address_per_hour,
                links: PublicLinks::new(&config.public_base_url),
            },
        });
        Ok(Self {
            foundation,
            api,
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
            AccountServiceServer::new(self.api)
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
        );
        let parking = self
            .foundation
            .parking(ServiceQueue::Account, self.parking.clone());
        let handler = AccountEvents::new(self.foundation.pool.clone(), parking.clone());
        // Few incidents at a time: each one is a large set-based job. Notice
        // reports are small and share these slots.
        let tasks: Vec<BackgroundTask> = vec![
            self.foundation.consumer(
                ServiceQueue::Account,
                handler.clone(),
                ConsumerOptions::default().with_concurrency(2),
            ),
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
