//! candor-notification: breach notices and transactional email, delivered over SMTP at a controlled rate.
//!
//! [`App::build`] starts the service (database and migrations, RabbitMQ
//! topology, gRPC listener) and [`App::run_until`] serves it until the
//! shutdown future resolves. `main.rs` and the tests both go through here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use candor_platform::messaging::{ConsumerOptions, ServiceQueue};
use candor_platform::parking::ParkingOptions;
use candor_platform::service::{Foundation, ServiceApp};
use candor_proto::notification::v1::notification_service_server::NotificationServiceServer;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;

mod config;
pub mod consumers;
pub mod domain;
mod errors;
pub mod grpc;
pub mod intake;
pub mod metrics;
pub mod notice;
pub mod sender;
pub mod smtp;
pub mod store;

pub use config::Config;

/// The binary's name, also the service name in logs and traces.
pub const BINARY_NAME: &str = "candor-notification";

/// This service's own schema; the outbox table comes from candor-platform.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A started candor-notification, ready to serve.
pub struct App {
    foundation: Foundation,
    config: Config,
    renderer: Arc<notice::Renderer>,
    smtp: Arc<smtp::SmtpPool>,
    /// For the health probe, which connects as the pool does.
    smtp_settings: smtp::SmtpSettings,
    /// What the sender counts as it writes outcomes.
    delivery_metrics: metrics::DeliveryMetrics,
    /// What every way a delivery report arrives counts.
    report_metrics: metrics::DeliveryReportMetrics,
    /// The delivery-report intake and its bound listener, when it has an
    /// endpoint configured and `DELIVERY_REPORTS_ADDR` is not `off`.
    delivery_reports: Option<(intake::Intake, tokio::net::TcpListener)>,
}

impl App {
    /// Connects, migrates, declares queues and binds `GRPC_ADDR`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let mut smtp_settings =
            smtp::SmtpSettings::parse(candor_platform::config::expose(&config.smtp_url))
                .map_err(anyhow::Error::msg)?;
        if let Some(path) = &config.smtp_ca_file {
            smtp_settings
                .trust_ca_file(path)
                .map_err(anyhow::Error::msg)?;
        }
        let renderer = notice::Renderer::new(&config.email_identity(), &config.public_base_url)
            .context("preparing the email templates")?;
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
        let smtp = Arc::new(smtp::SmtpPool::new(
            smtp_settings.clone(),
            config.smtp_concurrency as usize,
            Duration::from_secs(config.smtp_timeout_seconds),
            metrics::SmtpMetrics::register(&foundation.metrics)?,
        ));
        let delivery_metrics = metrics::DeliveryMetrics::register(&foundation.metrics)?;
        let report_metrics = metrics::DeliveryReportMetrics::register(&foundation.metrics)?;
        metrics::register_incident_progress(
            &foundation.metrics,
            foundation.pool.clone(),
            config.send_rate_per_second,
        )?;
        let delivery_reports = match config.delivery_reports.listen_addr() {
            Some(addr) => Some((
                intake::Intake::new(
                    &config.delivery_reports,
                    foundation.pool.clone(),
                    config.soft_bounce_max_retries,
                    report_metrics.clone(),
                    &foundation.metrics,
                )?,
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on DELIVERY_REPORTS_ADDR {addr}"))?,
            )),
            None => None,
        };
        Ok(Self {
            foundation,
            config,
            renderer,
            smtp,
            smtp_settings,
            delivery_metrics,
            report_metrics,
            delivery_reports,
        })
    }

    /// Where the delivery-report intake listens (the real port after
    /// `:0`); `None` when it does not.
    pub fn delivery_reports_addr(&self) -> Option<std::net::SocketAddr> {
        self.delivery_reports
            .as_ref()
            .and_then(|(_, listener)| listener.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then drains and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let config = &self.config;
        let wake = Arc::new(Notify::new());
        let pool = self.foundation.pool.clone();
        let api = grpc::NotificationApi::new(
            pool.clone(),
            self.renderer.clone(),
            self.smtp.clone(),
            wake.clone(),
            grpc::DeliveryReportSettings {
                soft_bounce_max_retries: config.soft_bounce_max_retries,
                metrics: self.report_metrics.clone(),
            },
        );
        let max_message = self.foundation.common.server.max_message_bytes();
        let grpc = self.foundation.grpc_server()?.add_service(
            NotificationServiceServer::new(api)
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
        );
        let parking = self.foundation.parking(
            ServiceQueue::Notification,
            ParkingOptions::from_config(&config.parking),
        );
        let handler = Arc::new(consumers::EventHandler::new(
            pool.clone(),
            parking.clone(),
            self.renderer.message_id_domain().to_owned(),
            config.thread_link_wait_seconds as f64,
        ));
        let consumer = self.foundation.consumer(
            ServiceQueue::Notification,
            handler.clone(),
            ConsumerOptions::default(),
        );
        let sweeper = parking.sweeper(handler);
        let sending_health = self.sending_health(grpc.health_reporter());
        let sender = sender::Sender::new(
            pool,
            self.smtp.clone(),
            self.renderer.clone(),
            sender::SenderSettings {
                rate_per_second: config.send_rate_per_second,
                concurrency: config.smtp_concurrency as usize,
                max_attempts: config.send_max_attempts,
                retry_initial: Duration::from_millis(config.send_retry_initial_ms),
                retry_max: Duration::from_millis(config.send_retry_max_ms),
                stale_after: Duration::from_secs(config.sending_stale_seconds),
                lease: Duration::from_secs(config.sender_lease_seconds),
            },
            wake,
            self.delivery_metrics.clone(),
        );
        let mut tasks = vec![consumer, sweeper, sender.task(), sending_health];
        if let Some((reports, listener)) = self.delivery_reports {
            let serve_reports: candor_platform::service::BackgroundTask =
                Box::new(move |stop| Box::pin(intake::serve(reports, listener, stop)));
            tasks.push(serve_reports);
        }
        self.foundation.run(grpc, tasks, shutdown).await
    }

    /// The task keeping the health of [`smtp::SENDING_HEALTH_SERVICE`] true
    /// to the SMTP server.
    fn sending_health(
        &self,
        reporter: tonic_health::server::HealthReporter,
    ) -> candor_platform::service::BackgroundTask {
        let reachability = self.smtp.reachability();
        let settings = self.smtp_settings.clone();
        let timeout = Duration::from_secs(self.config.smtp_timeout_seconds);
        let interval = Duration::from_secs(self.config.smtp_probe_interval_seconds);
        Box::new(move |stop| {
            Box::pin(async move {
                smtp::report_sending_health(
                    reachability,
                    settings,
                    timeout,
                    interval,
                    reporter,
                    stop,
                )
                .await;
                Ok(())
            })
        })
    }
}

impl ServiceApp for App {
    fn foundation(&self) -> &Foundation {
        &self.foundation
    }
}
