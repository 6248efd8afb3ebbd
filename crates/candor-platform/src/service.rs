//! The life of a service process, shared by all four: start-up in the house
//! order (database, migrations, broker, topology, listener), then serving
//! until shutdown, then draining.
//!
//! A service's `main.rs` is one call to [`main`]; its `App::build` calls
//! [`Foundation::start`] and its `run_until` calls [`Foundation::run`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::Credentials;
use crate::auth::forwarded::ProxyTrust;
use crate::config::AuthConfig;
use crate::config::{CommonConfig, MetricsAddr, TelemetryConfig};
use crate::grpc::{GrpcServer, GrpcTls, Guard, Limits};
use crate::messaging::{Broker, Publisher, ServiceQueue, Topology};
use crate::metrics::Metrics;
use crate::metrics::messaging::PublisherMetrics;
use crate::outbox::OutboxRelay;

/// A future that resolves when the process should stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A long-running task of a service (a queue consumer, a sender loop). It
/// stops taking new work when the token is cancelled and returns once its
/// in-flight work is done.
pub type BackgroundTask = Box<
    dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>
        + Send,
>;

/// Runs a service binary: parses its configuration (one line and exit 64 on
/// a bad setting), installs telemetry, runs `run` until SIGTERM or Ctrl-C,
/// flushes telemetry. Exit 0 after a clean shutdown, 1 after a failure.
pub fn main<C, T, F, Fut>(binary_name: &str, telemetry_of: T, run: F) -> ExitCode
where
    C: clap::Parser,
    T: FnOnce(&C) -> &TelemetryConfig,
    F: FnOnce(C, Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config: C = crate::config::parse_or_exit(binary_name);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{binary_name}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = match crate::telemetry::init(binary_name, telemetry_of(&config)) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("{binary_name}: configuration error: {error:#}");
                return ExitCode::from(crate::config::EXIT_CONFIG_ERROR as u8);
            }
        };
        let result = run(config, Box::pin(crate::shutdown::signal())).await;
        let code = match result {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "service failed");
                eprintln!("{binary_name}: {error:#}");
                ExitCode::FAILURE
            }
        };
        telemetry.shutdown();
        code
    })
}

/// What every service holds once started: its pool, its broker connection,
/// the topology names, the configured credentials and the bound listener.
pub struct Foundation {
    /// The service's name (`account`, …), for logs.
    pub name: &'static str,
    /// The pool of the service's own database, migrated.
    pub pool: PgPool,
    /// The process's one RabbitMQ connection, reopened when it drops.
    pub broker: Broker,
    /// A confirming publisher on `broker` (events normally leave through
    /// the outbox instead).
    pub publisher: Publisher,
    /// The names of this deployment's exchanges and queues.
    pub topology: Topology,
    /// The credentials this service accepts from its callers.
    pub credentials: Credentials,
    /// The settings every service shares.
    pub common: CommonConfig,
    /// TLS for the gRPC server and for channels to other services.
    pub tls: GrpcTls,
    /// The service's Prometheus metrics (disabled with `METRICS_ADDR=off`);
    /// services register their own families here.
    pub metrics: Metrics,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
}

impl Foundation {
    /// Connects to PostgreSQL and runs the migrations, connects to RabbitMQ
    /// and declares the topology, binds the gRPC and metrics listeners. Any
    /// failure names the step and stops the start.
    pub async fn start(
        name: &'static str,
        common: &CommonConfig,
        listen: Listen,
        migrations: &Migrator,
    ) -> anyhow::Result<Self> {
        let metrics = match listen.metrics {
            MetricsAddr::Listen(_) => Metrics::new(name, &common.metrics)?,
            MetricsAddr::Off => Metrics::disabled(),
        };
        let tls = GrpcTls::load(&common.grpc_tls, common.server.grpc_tls_require_client_cert)?;
        let credentials = Credentials::new(&common.auth)?;
        let pool = crate::db::connect(&common.database).await?;
        crate::db::migrate(&pool, migrations).await?;
        let broker = Broker::connect(&common.amqp)
            .await
            .context("cannot connect to RabbitMQ at AMQP_URL")?;
        let topology = Topology::new(&common.amqp.amqp_namespace);
        let service = ServiceQueue::from_name(name.trim_start_matches("candor-"))
            .with_context(|| format!("{name} is not a service of the RabbitMQ topology"))?;
        let channel = broker.channel().await.context("opening an AMQP channel")?;
        topology
            .declare_for(&channel, &common.amqp, service)
            .await
            .context("declaring the RabbitMQ topology (AMQP_DECLARE_TOPOLOGY)")?;
        let _ = channel.close(200, "topology declared".into()).await;
        // Again on every later connection (a failover to another node of a
        // cluster, or a broker that came back without its state), before the
        // consumers resume on it.
        broker
            .on_new_connection(topology.declare_hook(&common.amqp, service))
            .await;
        let publisher =
            Publisher::new(broker.clone()).with_metrics(PublisherMetrics::events(&metrics));
        crate::metrics::register_platform_gauges(
            &metrics,
            pool.clone(),
            broker.clone(),
            &topology,
            service,
        )?;
        let listener = crate::grpc::bind(listen.grpc).await?;
        let metrics_listener = match listen.metrics {
            MetricsAddr::Listen(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on METRICS_ADDR {addr}"))?,
            ),
            MetricsAddr::Off => None,
        };
        tracing::info!(
            service = name,
            addr = ?listener.local_addr().ok(),
            metrics_addr = ?metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok()),
            "started"
        );
        Ok(Self {
            name,
            pool,
            broker,
            publisher,
            topology,
            credentials,
            common: common.clone(),
            tls,
            metrics,
            listener,
            metrics_listener,
        })
    }

    /// A background task consuming `queue` of this service with `handler`,
    /// with the prefetch and retry settings from the configuration.
    pub fn consumer<H: crate::messaging::MessageHandler>(
        &self,
        queue: crate::messaging::ServiceQueue,
        handler: std::sync::Arc<H>,
        options: crate::messaging::ConsumerOptions,
    ) -> BackgroundTask {
        let broker = self.broker.clone();
        let queue_name = self.topology.queue_name(queue.name());
        let options = options.with_metrics_default(&self.metrics);
        Box::new(move |stop| {
            Box::pin(async move {
                crate::messaging::run_consumer(&broker, &queue_name, handler, options, stop).await
            })
        })
    }

    /// Incident parking for messages of `queue`, dead-lettering to its
    /// dead-letter queue.
    pub fn parking(
        &self,
        queue: ServiceQueue,
        options: crate::parking::ParkingOptions,
    ) -> crate::parking::IncidentParking {
        crate::parking::IncidentParking::new(
            self.pool.clone(),
            Publisher::for_exchange(self.broker.clone(), self.topology.dead_letter_exchange())
                .with_metrics(PublisherMetrics::dead_letters(&self.metrics)),
            self.topology.queue_name(queue.name()),
            options,
        )
    }

    /// A gRPC server for this service: the permission table enforced with
    /// this service's credentials and trusted proxies, and the limits of
    /// its `ServerConfig`.
    pub fn grpc_server(&self) -> anyhow::Result<GrpcServer> {
        Ok(GrpcServer::new(
            Guard::new(self.credentials.clone(), proxy_trust(&self.common.auth)),
            Limits::from_config(&self.common.server),
        )?
        .with_metrics(&self.metrics))
    }

    /// The address the gRPC server listens on (the real port after `:0`).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the gRPC listener address")
    }

    /// The address metrics are served on (the real port after `:0`); `None`
    /// with `METRICS_ADDR=off`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// Serves `grpc`, relays the outbox and runs `tasks` until `shutdown`.
    /// Then health turns NOT_SERVING, consumers stop taking messages, and
    /// in-flight calls and messages get the grace period to finish.
    pub async fn run(
        self,
        grpc: GrpcServer,
        tasks: Vec<BackgroundTask>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = self.common.server.shutdown_grace();
        let stop = CancellationToken::new();
        let mut background = JoinSet::new();

        let relay = OutboxRelay::new(self.pool.clone(), self.publisher.clone());
        let relay_stop = stop.clone();
        background.spawn(async move { relay.run(relay_stop).await.context("outbox relay") });
        for task in tasks {
            background.spawn(task(stop.clone()));
        }
        if let Some(listener) = self.metrics_listener {
            let metrics = self.metrics.clone();
            let metrics_stop = stop.clone();
            background
                .spawn(async move { crate::metrics::serve(metrics, listener, metrics_stop).await });
        }

        let grpc_stop = stop.clone();
        let trigger = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        let served = grpc
            .with_tls(self.tls.server_config())
            .serve(self.listener, grpc_stop.cancelled_owned(), grace)
            .await;
        stop.cancel();

        let drained = tokio::time::timeout(grace, async {
            let mut first_error = None;
            while let Some(joined) = background.join_next().await {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::error!(error = %format!("{error:#}"), "background task failed");
                        first_error.get_or_insert(error);
                    }
                    Err(join_error) => {
                        tracing::error!(error = %join_error, "background task panicked");
                    }
                }
            }
            first_error
        })
        .await;
        self.broker.close().await;
        self.pool.close().await;
        served?;
        match drained {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(error),
            Err(_) => {
                tracing::warn!("background tasks did not finish within the grace period");
                Ok(())
            }
        }
    }
}

/// What tests, benches and tools ask of a built service, the same for all
/// four: each service's `App` holds its [`Foundation`] and implements this.
pub trait ServiceApp {
    /// The service's started foundation.
    fn foundation(&self) -> &Foundation;

    /// Where the gRPC server listens (the real port after `:0`).
    fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.foundation().local_addr()
    }

    /// The pool of the service's own database.
    fn pool(&self) -> &PgPool {
        &self.foundation().pool
    }

    /// Where metrics are served (the real port after `:0`), unless off.
    fn metrics_addr(&self) -> Option<SocketAddr> {
        self.foundation().metrics_addr()
    }
}

/// Where a service listens: gRPC (`GRPC_ADDR`) and metrics (`METRICS_ADDR`).
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    /// The gRPC server's address.
    pub grpc: SocketAddr,
    /// The metrics endpoint's address, or off.
    pub metrics: MetricsAddr,
}

/// Whose `x-forwarded-for` the server believes (`TRUSTED_PROXY_CALLERS`,
/// `TRUSTED_PROXY_ADDRESSES`).
pub fn proxy_trust(auth: &AuthConfig) -> ProxyTrust {
    ProxyTrust::new(&auth.trusted_proxy_callers, &auth.trusted_proxy_addresses)
}
