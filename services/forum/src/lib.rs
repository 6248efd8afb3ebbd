//! candor-forum: boards, threads, posts, moderation and the pinned incident thread.
//!
//! [`App::build`] starts the service (database and migrations, RabbitMQ
//! topology, gRPC listener) and [`App::run_until`] serves it until the
//! shutdown future resolves. `main.rs` and the tests both go through here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use candor_platform::auth::{SessionCache, SessionResolver};
use candor_platform::links::PublicLinks;
use candor_platform::messaging::{ConsumerOptions, ServiceQueue};
use candor_platform::service::{Foundation, ServiceApp};
use sqlx::migrate::Migrator;

mod config;
mod consumers;
mod domain;
mod errors;
mod grpc;
mod metrics;
mod page_cache;
mod store;

/// Most ListPosts pages one replica keeps.
const PAGE_CACHE_CAPACITY: usize = 10_000;

pub use config::Config;
pub use domain::poster::SYSTEM_ACCOUNT_ID;

/// The binary's name, also the service name in logs and traces.
pub const BINARY_NAME: &str = "candor-forum";

/// This service's own schema; the outbox table comes from candor-platform.
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A started candor-forum, ready to serve.
pub struct App {
    foundation: Foundation,
    api: grpc::ForumApi,
    events: Arc<consumers::ForumEvents>,
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
        let sessions = Arc::new(SessionResolver::new(
            foundation.tls.service_connection(
                &config.account_grpc_url,
                &config.common.auth.service_token,
                "ACCOUNT_GRPC_URL",
            )?,
            SessionCache {
                ttl: Duration::from_secs(u64::from(config.session_cache_seconds)),
                capacity: config.session_cache_capacity as usize,
            },
        ));
        let links = PublicLinks::new(&config.public_base_url);
        let policy = domain::posting::PostingPolicy {
            member_interval: Duration::from_secs(u64::from(config.post_interval_seconds)),
        };
        let pages = Arc::new(page_cache::PageCache::new(
            Duration::from_millis(config.page_cache_millis),
            PAGE_CACHE_CAPACITY,
        ));
        let api = grpc::ForumApi::new(
            foundation.pool.clone(),
            sessions.clone(),
            links.clone(),
            policy,
            pages.clone(),
        );
        metrics::register_incident_progress(&foundation.metrics, foundation.pool.clone())?;
        let events = Arc::new(consumers::ForumEvents::new(
            foundation.pool.clone(),
            links,
            sessions,
            pages,
        ));
        Ok(Self {
            foundation,
            api,
            events,
        })
    }

    /// Serves until `shutdown` resolves, then drains and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let max_message = self.foundation.common.server.max_message_bytes();
        let grpc = self
            .foundation
            .grpc_server()?
            .add_service(grpc::ForumRoutes::new(self.api, max_message));
        let consumer =
            self.foundation
                .consumer(ServiceQueue::Forum, self.events, ConsumerOptions::default());
        self.foundation.run(grpc, vec![consumer], shutdown).await
    }
}

impl ServiceApp for App {
    fn foundation(&self) -> &Foundation {
        &self.foundation
    }
}
