//! The whole system for a test: all four services in-process on their own
//! ports, each with its own fresh database, one RabbitMQ namespace, and the
//! testkit SMTP sink, wired exactly as docker compose wires them.

use std::time::Duration;

use anyhow::Context;
use candor_testkit::binary::free_port;
use candor_testkit::database::TestDatabase;
use candor_testkit::environment::{OPERATOR_TOKEN, SERVICE_TOKEN};
use candor_testkit::rabbitmq::TestBroker;
use candor_testkit::service::RunningService;
use candor_testkit::smtp::SmtpSink;
use candorctl::endpoints::Endpoints;

/// The public site the links in emails point at.
pub const PUBLIC_BASE_URL: &str = "https://books.candor.example";
const LEGACY_HASH_KEY: &str = "end-to-end-legacy-hash-key-0123456789abcdef";

/// A running Candor.
pub struct Stack {
    /// Where candorctl finds everything (with the operator token).
    pub endpoints: Endpoints,
    pub smtp: SmtpSink,
    services: Vec<RunningService>,
    _databases: Vec<TestDatabase>,
    _broker: TestBroker,
}

struct Ports {
    account: u16,
    notification: u16,
    membership: u16,
    forum: u16,
}

impl Stack {
    /// Starts everything and waits until every service is SERVING.
    pub async fn start() -> anyhow::Result<Self> {
        let smtp = SmtpSink::start()?;
        let broker = TestBroker::new();
        let ports = Ports {
            account: free_port()?,
            notification: free_port()?,
            membership: free_port()?,
            forum: free_port()?,
        };
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let mut databases = Vec::new();
        let mut services = Vec::new();

        let database = TestDatabase::create().await?;
        let args = common_args("candor-account", ports.account, &database, &broker).chain([
            format!("--notification-grpc-url={}", url(ports.notification)),
            format!("--public-base-url={PUBLIC_BASE_URL}"),
            format!("--legacy-hash-key={LEGACY_HASH_KEY}"),
        ]);
        let config: candor_account::Config = parse(args)?;
        let app = candor_account::App::build(config)
            .await
            .context("starting account")?;
        let addr = app.grpc_addr()?;
        services.push(RunningService::spawn("account", addr, |shutdown| {
            app.run_until(shutdown)
        }));
        databases.push(database);

        let database = TestDatabase::create().await?;
        let args = common_args(
            "candor-notification",
            ports.notification,
            &database,
            &broker,
        )
        .chain([
            format!("--smtp-url={}", smtp.url()),
            format!("--public-base-url={PUBLIC_BASE_URL}"),
            format!("--account-grpc-url={}", url(ports.account)),
            format!("--forum-grpc-url={}", url(ports.forum)),
        ]);
        let config: candor_notification::Config = parse(args)?;
        let app = candor_notification::App::build(config)
            .await
            .context("starting notification")?;
        let addr = app.grpc_addr()?;
        services.push(RunningService::spawn("notification", addr, |shutdown| {
            app.run_until(shutdown)
        }));
        databases.push(database);

        let database = TestDatabase::create().await?;
        let args = common_args("candor-membership", ports.membership, &database, &broker)
            .chain([format!("--account-grpc-url={}", url(ports.account))]);
        let config: candor_membership::Config = parse(args)?;
        let app = candor_membership::App::build(config)
            .await
            .context("starting membership")?;
        let addr = app.grpc_addr()?;
        services.push(RunningService::spawn("membership", addr, |shutdown| {
            app.run_until(shutdown)
        }));
        databases.push(database);

        let database = TestDatabase::create().await?;
        let args = common_args("candor-forum", ports.forum, &database, &broker).chain([
            format!("--account-grpc-url={}", url(ports.account)),
            format!("--public-base-url={PUBLIC_BASE_URL}"),
        ]);
        let config: candor_forum::Config = parse(args)?;
        let app = candor_forum::App::build(config)
            .await
            .context("starting forum")?;
        let addr = app.grpc_addr()?;
        services.push(RunningService::spawn("forum", addr, |shutdown| {
            app.run_until(shutdown)
        }));
        databases.push(database);

        for service in &services {
            service.wait_until_serving(Duration::from_secs(60)).await?;
        }
        let amqp = broker.config();
        let endpoints = Endpoints {
            amqp_url: candor_platform::config::expose(&amqp.amqp_url).to_owned(),
            amqp_namespace: amqp.amqp_namespace.clone(),
            account_grpc_url: url(ports.account),
            notification_grpc_url: url(ports.notification),
            membership_grpc_url: url(ports.membership),
            forum_grpc_url: url(ports.forum),
            operator_token: Some(OPERATOR_TOKEN.to_owned()),
        };
        Ok(Self {
            endpoints,
            smtp,
            services,
            _databases: databases,
            _broker: broker,
        })
    }

    /// The service token, for calls a service would make (ValidateSession).
    pub fn service_token(&self) -> &'static str {
        SERVICE_TOKEN
    }

    /// Stops every service and reports the first that did not stop cleanly.
    pub async fn stop(self) -> anyhow::Result<()> {
        let mut first_error = None;
        for service in self.services {
            if let Err(error) = service.stop().await {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn common_args(
    binary: &str,
    port: u16,
    database: &TestDatabase,
    broker: &TestBroker,
) -> impl Iterator<Item = String> + use<> {
    let amqp = broker.config();
    vec![
        binary.to_owned(),
        format!("--grpc-addr=127.0.0.1:{port}"),
        format!("--database-url={}", database.url()),
        format!(
            "--amqp-url={}",
            candor_platform::config::expose(&amqp.amqp_url)
        ),
        format!("--amqp-namespace={}", amqp.amqp_namespace),
        format!("--operator-token={OPERATOR_TOKEN}"),
        format!("--service-token={SERVICE_TOKEN}"),
        "--shutdown-grace-seconds=10".to_owned(),
    ]
    .into_iter()
}

/// Parses a service's configuration from flags, so settings added later
/// keep their defaults here without editing this file.
fn parse<C: clap::Parser>(args: impl Iterator<Item = String>) -> anyhow::Result<C> {
    candor_platform::config::try_parse_from(args).map_err(|error| anyhow::anyhow!("{error}"))
}
