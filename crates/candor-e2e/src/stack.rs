//! The whole system for a test: all four services in-process on their own
//! ports, each with its own fresh database, one RabbitMQ namespace, and the
//! testkit SMTP sink, wired exactly as docker compose wires them — or, when
//! `CANDOR_E2E_ENDPOINTS` is set, a deployment that is already running
//! (docker compose), reached through its published ports and Mailpit's API.

use candor_platform::service::ServiceApp as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use candor_platform::auth::Caller;
use candor_platform::config::GrpcTlsConfig;
use candor_platform::grpc::GrpcTls;
use candor_platform::messaging::ServiceQueue;
use candor_testkit::binary::free_port;
use candor_testkit::conformance::wait_until_serving;
use candor_testkit::database::TestDatabase;
use candor_testkit::environment::{OPERATOR_TOKEN, caller_token, caller_tokens_setting};
use candor_testkit::rabbitmq::{TestBroker, amqp_flags};
use candor_testkit::service::RunningService;
use candor_testkit::smtp::SmtpSink;
use candor_testkit::tls::TestPki;
use candorctl::endpoints::Endpoints;
use tonic::transport::Channel;

use crate::mailbox::{Mailbox, MailpitApi};

/// The public site the links in emails point at.
pub const PUBLIC_BASE_URL: &str = "https://books.candor.example";
/// The organisation the in-process stack's emails speak for.
pub const ORGANISATION_NAME: &str = "Candor Books";
const LEGACY_HASH_KEY: &str = "end-to-end-legacy-hash-key-0123456789abcdef";

/// Selects the running-deployment mode: `compose` for the docker compose
/// ports on this machine, or `account=URL,notification=URL,membership=URL,forum=URL`.
pub const ENDPOINTS_VAR: &str = "CANDOR_E2E_ENDPOINTS";

/// Builds one service's `App` from flags and spawns it; gives the running
/// service and where it serves metrics. A macro rather than a function
/// because the four `App` types share a shape, not a trait.
macro_rules! start_in_process {
    ($service:ident, $name:literal, $args:expr) => {{
        let config: $service::Config = parse($args)?;
        let app = $service::App::build(config)
            .await
            .context(concat!("starting ", $name))?;
        let addr = app.grpc_addr()?;
        let metrics_addr = app.metrics_addr();
        (
            RunningService::spawn($name, addr, |shutdown| app.run_until(shutdown)),
            metrics_addr,
        )
    }};
}

/// How an in-process stack differs from the default one.
#[derive(Default)]
pub struct StackOptions {
    /// Where the emails arrive (default: a new sink).
    pub smtp: Option<SmtpSink>,
    /// The notification service's `SMTP_URL` (default: the sink's), e.g. a
    /// [`candor_testkit::proxy::TcpProxy`] in front of the sink, to cut.
    pub smtp_url: Option<String>,
    /// More flags for the notification service, e.g. `--send-max-attempts=2`.
    pub notification_flags: Vec<String>,
    /// The broker namespace and users the services connect with (default:
    /// [`TestBroker::with_users`] on the test broker), e.g. one on a
    /// RabbitMQ cluster whose URL lists several nodes.
    pub broker: Option<TestBroker>,
    /// Replicas of every service (default 1): each replica its own app with
    /// its own ports, all of a service sharing its database and queue.
    /// candorctl's endpoints reach the first replica of each.
    pub replicas: usize,
    /// The services' `PUBLIC_BASE_URL` (default [`PUBLIC_BASE_URL`]), e.g.
    /// the address of a candor-web the test runs, so the links in emails
    /// and threads lead to its pages.
    pub public_base_url: Option<String>,
}

/// A running Candor.
pub struct Stack {
    /// Where candorctl finds everything (with the operator token).
    pub endpoints: Endpoints,
    /// Where the emails arrive.
    pub mailbox: Mailbox,
    /// The base of every link in emails and threads.
    pub public_base_url: String,
    /// True when checking a deployment this process did not start: other
    /// members and incidents may exist there, so checks look at this run's
    /// own members only.
    pub external: bool,
    /// `endpoints.tls` loaded, for the test's own channels.
    tls: GrpcTls,
    services: Vec<RunningService>,
    /// Where each in-process service serves `GET /metrics`.
    metrics_addrs: Vec<(ServiceQueue, SocketAddr)>,
    _databases: Vec<TestDatabase>,
    _broker: Option<TestBroker>,
    /// The certificates of an in-process stack over mutual TLS.
    _pki: Option<TestPki>,
}

/// The gRPC port of every replica of each service.
struct Ports {
    account: Vec<u16>,
    notification: Vec<u16>,
    membership: Vec<u16>,
    forum: Vec<u16>,
}

fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    (0..count).map(|_| free_port()).collect()
}

impl Stack {
    /// The deployment named by the environment, or else a fresh in-process
    /// stack.
    pub async fn start() -> anyhow::Result<Self> {
        match std::env::var(ENDPOINTS_VAR) {
            Ok(endpoints) => Self::external(&endpoints),
            Err(_) => Self::in_process().await,
        }
    }

    /// A running deployment: `spec` is `compose` or a comma-separated list
    /// of `service=URL`; `AMQP_URL` and `OPERATOR_TOKEN` are the operator's
    /// (see [`operator_secret`]); `AMQP_NAMESPACE`, `MAILPIT_API_URL` and
    /// `PUBLIC_BASE_URL` default to docker compose's;
    /// `GRPC_TLS_CA_FILE`, `GRPC_TLS_CERT_FILE` and `GRPC_TLS_KEY_FILE` are
    /// used for `https://` URLs.
    pub fn external(spec: &str) -> anyhow::Result<Self> {
        let variable =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let mut endpoints = Endpoints {
            amqp_url: operator_secret("AMQP_URL", "amqp_url")?,
            amqp_namespace: variable("AMQP_NAMESPACE", "candor"),
            account_grpc_url: "http://127.0.0.1:50051".to_owned(),
            notification_grpc_url: "http://127.0.0.1:50052".to_owned(),
            membership_grpc_url: "http://127.0.0.1:50053".to_owned(),
            forum_grpc_url: "http://127.0.0.1:50054".to_owned(),
            operator_token: Some(operator_secret("OPERATOR_TOKEN", "operator_token")?),
            // For a deployment serving TLS (`deploy/compose.tls.yml`), with
            // `https://` URLs in the spec.
            tls: GrpcTlsConfig {
                grpc_tls_cert_file: std::env::var_os("GRPC_TLS_CERT_FILE").map(Into::into),
                grpc_tls_key_file: std::env::var_os("GRPC_TLS_KEY_FILE").map(Into::into),
                grpc_tls_ca_file: std::env::var_os("GRPC_TLS_CA_FILE").map(Into::into),
            },
        };
        if spec.trim() != "compose" {
            for entry in spec
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
            {
                let (service, url) = entry
                    .split_once('=')
                    .with_context(|| format!("{ENDPOINTS_VAR}: {entry:?} is not service=URL"))?;
                let slot = match service {
                    "account" => &mut endpoints.account_grpc_url,
                    "notification" => &mut endpoints.notification_grpc_url,
                    "membership" => &mut endpoints.membership_grpc_url,
                    "forum" => &mut endpoints.forum_grpc_url,
                    other => anyhow::bail!("{ENDPOINTS_VAR}: unknown service {other:?}"),
                };
                *slot = url.to_owned();
            }
        }
        Ok(Self {
            tls: GrpcTls::load(&endpoints.tls, false)?,
            endpoints,
            mailbox: Mailbox::Mailpit(MailpitApi::new(&variable(
                "MAILPIT_API_URL",
                "http://127.0.0.1:8025",
            ))),
            public_base_url: variable("PUBLIC_BASE_URL", "http://localhost:8080"),
            external: true,
            services: Vec::new(),
            metrics_addrs: Vec::new(),
            _databases: Vec::new(),
            _broker: None,
            _pki: None,
        })
    }

    /// Starts everything and waits until every service is SERVING.
    pub async fn in_process() -> anyhow::Result<Self> {
        Self::start_in_process(None, StackOptions::default()).await
    }

    /// Like [`Stack::in_process`], with `options`.
    pub async fn in_process_with(options: StackOptions) -> anyhow::Result<Self> {
        Self::start_in_process(None, options).await
    }

    /// Like [`Stack::in_process`], with every gRPC port serving mutual TLS
    /// as `deploy/compose.tls.yml` sets it up: each service presents its
    /// certificate to the others at `https://` URLs and requires theirs, and
    /// candorctl's endpoints carry a client certificate too.
    pub async fn in_process_over_mutual_tls() -> anyhow::Result<Self> {
        Self::start_in_process(Some(TestPki::generate()?), StackOptions::default()).await
    }

    /// A channel to one of the stack's services (`https://` URLs verified
    /// against the stack's CA, presenting its client certificate).
    pub fn channel(&self, url: &str) -> anyhow::Result<Channel> {
        self.tls.client_channel(url)
    }

    async fn start_in_process(pki: Option<TestPki>, options: StackOptions) -> anyhow::Result<Self> {
        let smtp = match options.smtp {
            Some(smtp) => smtp,
            None => SmtpSink::start()?,
        };
        let smtp_url = options.smtp_url.unwrap_or_else(|| smtp.url());
        // One broker user per service and one for the operator, with the
        // permissions of the generated definitions, as compose runs them.
        let broker = match options.broker {
            Some(broker) => broker,
            None => TestBroker::with_users().await?,
        };
        let replicas = options.replicas.max(1);
        let public_base_url = options
            .public_base_url
            .clone()
            .unwrap_or_else(|| PUBLIC_BASE_URL.to_owned());
        let ports = Ports {
            account: free_ports(replicas)?,
            notification: free_ports(replicas)?,
            membership: free_ports(replicas)?,
            forum: free_ports(replicas)?,
        };
        // The test certificate names `localhost` and `127.0.0.1`.
        let url = |port: u16| match &pki {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        // Replica `i` of a service calls replica `i` of the others (modulo
        // their count), so calls between services are spread over replicas
        // as a load-balanced service name spreads them.
        let peer = |ports: &[u16], replica: usize| url(ports[replica % ports.len()]);
        // Each service presents its own SERVICE_TOKEN. Over plain text the
        // others know it from CALLER_TOKENS; over mutual TLS they know none
        // (no CALLER_TOKENS), so each service is identified by the name in
        // its certificate, as a deployment with a PKI would do it. Each
        // service talks to RabbitMQ as its own broker user.
        let service_args = |service: ServiceQueue, port: u16, database: &TestDatabase| {
            let binary = format!("candor-{}", service.name());
            let caller = service_caller(&binary);
            let identity_args: Vec<String> = match &pki {
                Some(pki) => {
                    let (cert, key) = pki.caller_cert(caller);
                    vec![
                        format!("--grpc-tls-cert-file={}", cert.display()),
                        format!("--grpc-tls-key-file={}", key.display()),
                        format!("--grpc-tls-ca-file={}", pki.ca.display()),
                        "--grpc-tls-require-client-cert=true".to_owned(),
                    ]
                }
                None => vec![format!("--caller-tokens={}", caller_tokens_setting())],
            };
            common_args(&binary, caller, port, database)
                .chain(amqp_flags(&broker.service_config(service)))
                .chain(identity_args)
        };
        let mut databases = Vec::new();
        let mut services = Vec::new();
        let mut metrics_addrs = Vec::new();
        let mut started =
            |service: ServiceQueue,
             (running, metrics_addr): (RunningService, Option<SocketAddr>)| {
                services.push(running);
                metrics_addrs.extend(metrics_addr.map(|addr| (service, addr)));
            };

        // Every replica of a service shares its database (and the
        // namespace's queue), as replicas of a deployment do.
        let database = TestDatabase::create().await?;
        for replica in 0..replicas {
            let args = service_args(ServiceQueue::Account, ports.account[replica], &database)
                .chain([
                    format!(
                        "--notification-grpc-url={}",
                        peer(&ports.notification, replica)
                    ),
                    format!("--public-base-url={public_base_url}"),
                    format!("--legacy-hash-key={LEGACY_HASH_KEY}"),
                ]);
            started(
                ServiceQueue::Account,
                start_in_process!(candor_account, "account", args),
            );
        }
        databases.push(database);

        let database = TestDatabase::create().await?;
        for replica in 0..replicas {
            let args = service_args(
                ServiceQueue::Notification,
                ports.notification[replica],
                &database,
            )
            .chain([
                format!("--smtp-url={smtp_url}"),
                format!("--organisation-name={ORGANISATION_NAME}"),
                format!("--public-base-url={public_base_url}"),
                format!("--account-grpc-url={}", peer(&ports.account, replica)),
                format!("--forum-grpc-url={}", peer(&ports.forum, replica)),
            ])
            .chain(options.notification_flags.clone());
            started(
                ServiceQueue::Notification,
                start_in_process!(candor_notification, "notification", args),
            );
        }
        databases.push(database);

        let database = TestDatabase::create().await?;
        for replica in 0..replicas {
            let args = service_args(
                ServiceQueue::Membership,
                ports.membership[replica],
                &database,
            )
            .chain([format!(
                "--account-grpc-url={}",
                peer(&ports.account, replica)
            )]);
            started(
                ServiceQueue::Membership,
                start_in_process!(candor_membership, "membership", args),
            );
        }
        databases.push(database);

        let database = TestDatabase::create().await?;
        for replica in 0..replicas {
            let args = service_args(ServiceQueue::Forum, ports.forum[replica], &database).chain([
                format!("--account-grpc-url={}", peer(&ports.account, replica)),
                format!("--public-base-url={public_base_url}"),
            ]);
            started(
                ServiceQueue::Forum,
                start_in_process!(candor_forum, "forum", args),
            );
        }
        databases.push(database);

        // candorctl publishes breach.reported as the operator.
        let amqp = broker.operator_config();
        let endpoints = Endpoints {
            amqp_url: candor_platform::config::expose(&amqp.amqp_url).to_owned(),
            amqp_namespace: amqp.amqp_namespace.clone(),
            account_grpc_url: url(ports.account[0]),
            notification_grpc_url: url(ports.notification[0]),
            membership_grpc_url: url(ports.membership[0]),
            forum_grpc_url: url(ports.forum[0]),
            operator_token: Some(OPERATOR_TOKEN.to_owned()),
            // candorctl and the test's own channels: the operator's
            // certificate (the operator token is what authorizes them).
            tls: match &pki {
                Some(pki) => GrpcTlsConfig {
                    grpc_tls_cert_file: Some(pki.caller_cert(Caller::Operator).0),
                    grpc_tls_key_file: Some(pki.caller_cert(Caller::Operator).1),
                    grpc_tls_ca_file: Some(pki.ca.clone()),
                },
                None => GrpcTlsConfig::default(),
            },
        };
        // Health through the same channels the tests use (TLS when the
        // stack serves TLS).
        let tls = GrpcTls::load(&endpoints.tls, false)?;
        for (name, replica_ports) in [
            ("account", &ports.account),
            ("notification", &ports.notification),
            ("membership", &ports.membership),
            ("forum", &ports.forum),
        ] {
            for port in replica_ports {
                let url = url(*port);
                wait_until_serving(tls.client_channel(&url)?, Duration::from_secs(60))
                    .await
                    .with_context(|| format!("{name} never became healthy at {url}"))?;
            }
        }
        Ok(Self {
            endpoints,
            tls,
            mailbox: Mailbox::Sink(smtp),
            public_base_url,
            external: false,
            services,
            metrics_addrs,
            _databases: databases,
            _broker: Some(broker),
            _pki: pki,
        })
    }

    /// The test broker of an in-process stack (its per-test users, dead
    /// letters and helper publishing); `None` for an external deployment.
    pub fn broker(&self) -> Option<&TestBroker> {
        self._broker.as_ref()
    }

    /// Where `service` of an in-process stack serves `GET /metrics`; `None`
    /// for an external deployment.
    pub fn metrics_addr(&self, service: ServiceQueue) -> Option<SocketAddr> {
        self.metrics_addrs
            .iter()
            .find(|(started, _)| *started == service)
            .map(|(_, addr)| *addr)
    }

    /// Where each replica of `service` of an in-process stack serves
    /// `GET /metrics`, in start order; empty for an external deployment.
    pub fn metrics_addrs(&self, service: ServiceQueue) -> Vec<SocketAddr> {
        self.metrics_addrs
            .iter()
            .filter(|(started, _)| *started == service)
            .map(|(_, addr)| *addr)
            .collect()
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

/// The operator's credentials for an external deployment: the variable
/// itself, the file its `*_FILE` variable names, or `file` in the directory
/// `docker compose cp secrets:/run/secrets/candor/operator ./operator-secrets`
/// writes (`CANDOR_OPERATOR_SECRETS`, default `./operator-secrets`).
fn operator_secret(variable: &str, file: &str) -> anyhow::Result<String> {
    if let Ok(value) = std::env::var(variable) {
        return Ok(value);
    }
    let path = match std::env::var_os(format!("{variable}_FILE")) {
        Some(path) => std::path::PathBuf::from(path),
        None => std::path::PathBuf::from(
            std::env::var_os("CANDOR_OPERATOR_SECRETS")
                .unwrap_or_else(|| "operator-secrets".into()),
        )
        .join(file),
    };
    let content = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{variable}: not set, and {} cannot be read (set {variable}, {variable}_FILE or CANDOR_OPERATOR_SECRETS)",
            path.display()
        )
    })?;
    Ok(content.trim_end_matches(['\n', '\r']).to_owned())
}

/// The caller a service binary is (`candor-forum` is `forum`).
fn service_caller(binary: &str) -> Caller {
    match binary {
        "candor-account" => Caller::Account,
        "candor-notification" => Caller::Notification,
        "candor-membership" => Caller::Membership,
        "candor-forum" => Caller::Forum,
        _ => Caller::FrontEnd,
    }
}

fn common_args(
    binary: &str,
    caller: Caller,
    port: u16,
    database: &TestDatabase,
) -> impl Iterator<Item = String> + use<> {
    vec![
        binary.to_owned(),
        format!("--grpc-addr=127.0.0.1:{port}"),
        // Any free port: several stacks run side by side in one test binary.
        "--metrics-addr=127.0.0.1:0".to_owned(),
        format!("--database-url={}", database.url()),
        format!("--operator-token={OPERATOR_TOKEN}"),
        format!("--service-token={}", caller_token(caller)),
        "--shutdown-grace-seconds=10".to_owned(),
    ]
    .into_iter()
}

/// Parses a service's configuration from flags, so settings added later
/// keep their defaults here without editing this file.
fn parse<C: clap::Parser>(args: impl Iterator<Item = String>) -> anyhow::Result<C> {
    candor_platform::config::try_parse_from(args).map_err(|error| anyhow::anyhow!("{error}"))
}
