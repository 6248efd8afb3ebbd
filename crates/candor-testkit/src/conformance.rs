//! Checks every Candor service binary must pass, written once and called
//! from each service's tests: `--help` lists every setting with its
//! environment variable, a missing setting is one line and exit 64, and the
//! real binary starts, serves health and reflection (v1 and v1alpha), and
//! exits 0 on SIGTERM, also behind mutual TLS; it serves Prometheus metrics
//! that `promtool check metrics` accepts, and none at all (no listener)
//! with `METRICS_ADDR=off`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use candor_platform::config::GrpcTlsConfig;
use candor_platform::grpc::GrpcTls;
/// In scope for [`service_startup_tests!`], which calls `App::pool` and `grpc_addr`.
pub use candor_platform::service::ServiceApp;

use crate::binary::{Exited, RunningBinary, ServiceBinary, free_port};
use crate::metrics::{Scrape, listening_tcp_ports, promtool_check_metrics, scrape_text};
use crate::tls::TestPki;

/// `--help` exits 0, names every environment variable in `settings`, and
/// never shows the value of a secret setting the binary was given.
pub fn help_lists_every_setting(binary: &ServiceBinary, settings: &[&str]) -> anyhow::Result<()> {
    let output = binary.output(&["--help"])?;
    ensure!(
        output.status.success(),
        "--help exited with {}",
        output.status
    );
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in settings {
        ensure!(
            help.contains(&format!("[env: {setting}")),
            "--help does not list {setting}:\n{help}"
        );
    }
    for (name, value) in binary.environment() {
        // A value that is the setting's published default is no secret.
        let is_default = help.contains(&format!("[default: {value}]"));
        if candor_platform::config::looks_secret(name) && value.len() >= 8 && !is_default {
            ensure!(
                !help.contains(value.as_str()),
                "--help shows the value of the secret {name}"
            );
        }
    }
    Ok(())
}

/// Without `missing`, the binary exits 64 with one stderr line naming it.
pub fn missing_setting_is_one_line(binary: &ServiceBinary, missing: &str) -> anyhow::Result<()> {
    let output = binary.clone().without(missing).output(&[])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.code() == Some(64),
        "expected exit 64 without {missing}, got {} with stderr {stderr:?}",
        output.status
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    ensure!(
        lines.len() == 1,
        "expected one line without {missing}, got {stderr:?}"
    );
    ensure!(
        lines[0].contains(missing),
        "the error does not name {missing}: {stderr:?}"
    );
    Ok(())
}

/// An invalid value exits 64 with one line naming the setting and not
/// echoing secrets.
pub fn invalid_setting_is_one_line(
    binary: &ServiceBinary,
    setting: &str,
    value: &str,
) -> anyhow::Result<()> {
    let output = binary.clone().env(setting, value).output(&[])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.code() == Some(64),
        "expected exit 64 for {setting}={value:?}, got {} with stderr {stderr:?}",
        output.status
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    ensure!(
        lines.len() == 1 && lines[0].contains(setting),
        "expected one line naming {setting}: {stderr:?}"
    );
    Ok(())
}

/// Starts the binary on free ports with JSON logs, waits for health
/// SERVING, checks that reflection (v1 and v1alpha) lists exactly
/// `expected_services` besides health and reflection, that it listens on its gRPC and metrics ports only
/// and serves metrics ([`serves_prometheus_metrics`]), sends SIGTERM and
/// expects exit status 0 and only JSON log lines.
pub async fn serves_and_stops_on_sigterm(
    binary: &ServiceBinary,
    expected_services: &[&str],
) -> anyhow::Result<()> {
    let port = free_port()?;
    let metrics_port = free_port()?;
    let running = binary
        .clone()
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let channel = wait_for_serving(&url, Duration::from_secs(60)).await?;
    let listening = listening_tcp_ports(running.pid())?;
    ensure!(
        listening == BTreeSet::from([port, metrics_port]),
        "the binary listens on {listening:?}, not on its gRPC port {port} and METRICS_ADDR port {metrics_port}"
    );
    serves_prometheus_metrics(
        SocketAddr::from(([127, 0, 0, 1], metrics_port)),
        channel.clone(),
        &binary.name(),
    )
    .await?;
    let v1 = list_services_v1(channel.clone()).await?;
    let v1alpha = list_services_v1alpha(channel).await?;
    // Exactly what this port serves: its own services, health and
    // reflection — never another service's contract it would answer
    // UNIMPLEMENTED.
    let expected: BTreeSet<String> = expected_services
        .iter()
        .copied()
        .chain(candor_platform::grpc::HEALTH_AND_REFLECTION)
        .map(str::to_owned)
        .collect();
    for (version, listed) in [("v1", v1), ("v1alpha", v1alpha)] {
        let listed: BTreeSet<String> = listed.into_iter().collect();
        ensure!(
            listed == expected,
            "reflection {version} lists {listed:?}, not exactly {expected:?}"
        );
    }
    let exited = exits_0_on_sigterm(running).await?;
    let lines: Vec<&str> = exited
        .stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    ensure!(!lines.is_empty(), "no log lines at RUST_LOG=info");
    for line in &lines {
        let entry: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("LOG_FORMAT=json printed a non-JSON line: {line}"))?;
        ensure!(
            entry.get("level").is_some(),
            "log line without level: {line}"
        );
    }
    ensure!(
        lines.iter().any(|line| line.contains("sigterm received")),
        "the shutdown was not logged: {lines:?}"
    );
    Ok(())
}

/// After one health call on `grpc`, `GET /metrics` at `metrics_addr`
/// answers 200 in the text format with `candor_build_info{service}` 1, the
/// process collector's `process_resident_memory_bytes`, the health call
/// counted in `grpc_server_handled_total`, and `promtool check metrics`
/// (Prometheus' own parser and linter) accepts the whole of it.
pub async fn serves_prometheus_metrics(
    metrics_addr: SocketAddr,
    grpc: Channel,
    service: &str,
) -> anyhow::Result<()> {
    let status = health(grpc)
        .await
        .context("the health call before the scrape")?;
    ensure!(
        status == ServingStatus::Serving,
        "health answered {status:?}"
    );
    let text = scrape_text(metrics_addr)
        .await
        .with_context(|| format!("the metrics of {service}"))?;
    let scrape = Scrape::parse(&text)?;
    let require = |name: &str, labels: &[(&str, &str)], holds: fn(f64) -> bool, what: &str| {
        ensure!(
            scrape
                .samples(name)
                .any(|sample| sample.has_labels(labels) && holds(sample.value)),
            "{service}'s metrics have no {name} with labels {labels:?} and a value {what}:\n{text}"
        );
        Ok(())
    };
    require(
        "candor_build_info",
        &[("service", service)],
        |value| value == 1.0,
        "1",
    )?;
    require(
        "process_resident_memory_bytes",
        &[],
        |value| value > 0.0,
        "above 0",
    )?;
    require(
        "grpc_server_handled_total",
        &[
            ("grpc_service", "grpc.health.v1.Health"),
            ("grpc_method", "Check"),
            ("grpc_type", "unary"),
            ("grpc_code", "OK"),
        ],
        |value| value >= 1.0,
        "at least 1 after a health call",
    )?;
    tokio::task::spawn_blocking(move || promtool_check_metrics(&text))
        .await
        .context("joining promtool")?
        .with_context(|| format!("the metrics of {service}"))
}

/// With `METRICS_ADDR=off` the binary serves gRPC and listens on nothing
/// else, and still stops cleanly on SIGTERM.
pub async fn serves_no_metrics_when_off(binary: &ServiceBinary) -> anyhow::Result<()> {
    let port = free_port()?;
    let running = binary
        .clone()
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "off")
        .spawn()?;
    wait_for_serving(&format!("http://127.0.0.1:{port}"), Duration::from_secs(60)).await?;
    let listening = listening_tcp_ports(running.pid())?;
    ensure!(
        listening == BTreeSet::from([port]),
        "with METRICS_ADDR=off the binary listens on {listening:?}, not only on its gRPC port {port}"
    );
    exits_0_on_sigterm(running).await?;
    Ok(())
}

/// With `GRPC_TLS_*` set and client certificates required, the binary
/// serves only TLS, only to callers with a certificate from its CA, and
/// still stops cleanly on SIGTERM.
pub async fn serves_mutual_tls(binary: &ServiceBinary) -> anyhow::Result<()> {
    let pki = TestPki::generate()?;
    let port = free_port()?;
    let path = |path: &std::path::Path| path.display().to_string();
    let running = binary
        .clone()
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("GRPC_TLS_CERT_FILE", path(&pki.cert))
        .env("GRPC_TLS_KEY_FILE", path(&pki.key))
        .env("GRPC_TLS_CA_FILE", path(&pki.ca))
        .env("GRPC_TLS_REQUIRE_CLIENT_CERT", "true")
        .spawn()?;
    let url = format!("https://localhost:{port}");
    let tls = |cert: Option<&std::path::Path>, key: Option<&std::path::Path>| {
        GrpcTls::load(
            &GrpcTlsConfig {
                grpc_tls_cert_file: cert.map(Into::into),
                grpc_tls_key_file: key.map(Into::into),
                grpc_tls_ca_file: Some(pki.ca.clone()),
            },
            false,
        )
    };
    let member = tls(Some(&pki.cert), Some(&pki.key))?.client_channel(&url)?;
    wait_until_serving(member, Duration::from_secs(60))
        .await
        .context("a caller with a certificate from the CA")?;
    let anonymous = tls(None, None)?.client_channel(&url)?;
    ensure!(
        health(anonymous).await.is_err(),
        "a caller without a client certificate got an answer"
    );
    let plain = Channel::from_shared(format!("http://127.0.0.1:{port}"))?.connect_lazy();
    ensure!(
        health(plain).await.is_err(),
        "plain-text gRPC got an answer from a TLS server"
    );
    exits_0_on_sigterm(running).await?;
    Ok(())
}

/// Sends SIGTERM and expects exit status 0 within 30 s.
async fn exits_0_on_sigterm(running: RunningBinary) -> anyhow::Result<Exited> {
    let exited = tokio::task::spawn_blocking(move || running.terminate(Duration::from_secs(30)))
        .await
        .context("joining the terminate task")??;
    ensure!(
        exited.status.success(),
        "exit status {} after SIGTERM; stderr:\n{}",
        exited.status,
        exited.stderr
    );
    Ok(exited)
}

async fn health(channel: Channel) -> anyhow::Result<ServingStatus> {
    Ok(HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner()
        .status())
}

/// Waits until `channel` (lazily connected, so it reconnects between
/// attempts) reports SERVING. The one polling loop of the test kit.
pub async fn wait_until_serving(channel: Channel, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match health(channel.clone()).await {
            Ok(ServingStatus::Serving) => return Ok(()),
            Ok(_) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(status) => bail!("still {status:?} after {timeout:?}"),
            Err(error) => return Err(error.context(format!("no health answer in {timeout:?}"))),
        }
    }
}

/// Waits until the gRPC server at `url` reports SERVING; returns a channel to it.
pub async fn wait_for_serving(url: &str, timeout: Duration) -> anyhow::Result<Channel> {
    let channel = Channel::from_shared(url.to_owned())?.connect_lazy();
    wait_until_serving(channel.clone(), timeout)
        .await
        .with_context(|| format!("{url} did not become SERVING"))?;
    Ok(channel)
}

/// The v1 and v1alpha reflection APIs are the same messages in two
/// packages; one body serves both.
macro_rules! list_services {
    ($name:ident, $package:ident) => {
        async fn $name(channel: Channel) -> anyhow::Result<Vec<String>> {
            use tonic_reflection::pb::$package::ServerReflectionRequest;
            use tonic_reflection::pb::$package::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$package::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$package::server_reflection_response::MessageResponse;

            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut responses = ServerReflectionClient::new(channel)
                .server_reflection_info(tokio_stream::iter([request]))
                .await?
                .into_inner();
            let response = responses.next().await.context("no reflection response")??;
            match response.message_response {
                Some(MessageResponse::ListServicesResponse(list)) => Ok(list
                    .service
                    .into_iter()
                    .map(|service| service.name)
                    .collect()),
                other => bail!("unexpected reflection response {other:?}"),
            }
        }
    };
}

list_services!(list_services_v1, v1);
list_services!(list_services_v1alpha, v1alpha);

/// Every argument of `command` (but help and version) has an environment
/// variable, so the service can be configured from the environment alone.
pub fn every_setting_has_an_environment_variable(
    command: &clap::Command,
) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let env = arg
            .get_env()
            .with_context(|| format!("setting --{id} has no environment variable"))?;
        names.push(env.to_string_lossy().into_owned());
    }
    Ok(names)
}

/// The platform's migrations ran on `pool` (the outbox table exists).
pub async fn platform_migrations_ran(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('candor_outbox') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    ensure!(
        exists,
        "the platform migrations did not run (no candor_outbox table)"
    );
    Ok(())
}

/// The start-up tests every service has, written once:
///
/// ```text
/// candor_testkit::service_startup_tests! {
///     service: candor_account,
///     binary: "candor-account",
///     grpc_service: "candor.account.v1.AccountService",
///     settings: [("LEGACY_HASH_KEY", "test-legacy-hash-key-0123456789abcdef")],
///     required: ["DATABASE_URL", "OPERATOR_TOKEN", "SERVICE_TOKEN", "LEGACY_HASH_KEY"],
/// }
/// ```
///
/// `settings` are the service's required settings beyond the common ones,
/// by environment variable; `required` are the variables whose absence must
/// stop the start.
#[macro_export]
macro_rules! service_startup_tests {
    (
        service: $service:ident,
        binary: $binary:literal,
        grpc_service: $grpc_service:literal,
        settings: [$(($name:literal, $value:expr)),* $(,)?],
        required: [$($required:literal),* $(,)?] $(,)?
    ) => {
        const STARTUP_BINARY: &str = env!(concat!("CARGO_BIN_EXE_", $binary));

        fn startup_settings() -> Vec<(&'static str, String)> {
            vec![$(($name, ($value).to_string())),*]
        }

        fn startup_binary(
            environment: &$crate::environment::TestEnvironment,
        ) -> $crate::binary::ServiceBinary {
            startup_settings()
                .into_iter()
                .fold(environment.binary(STARTUP_BINARY), |binary, (name, value)| {
                    binary.env(name, value)
                })
        }

        #[tokio::test]
        async fn help_lists_every_setting_with_its_environment_variable() {
            let environment = $crate::environment::TestEnvironment::new().await.unwrap();
            let command = <$service::Config as clap::CommandFactory>::command();
            let settings =
                $crate::conformance::every_setting_has_an_environment_variable(&command).unwrap();
            let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
            $crate::conformance::help_lists_every_setting(&startup_binary(&environment), &settings)
                .unwrap();
        }

        #[tokio::test]
        async fn a_missing_or_invalid_setting_stops_the_start_with_one_line() {
            let environment = $crate::environment::TestEnvironment::new().await.unwrap();
            let binary = startup_binary(&environment);
            for required in [$($required),*] {
                $crate::conformance::missing_setting_is_one_line(&binary, required).unwrap();
            }
            $crate::conformance::invalid_setting_is_one_line(&binary, "AMQP_QUEUE_TYPE", "lazy")
                .unwrap();
            $crate::conformance::invalid_setting_is_one_line(&binary, "OPERATOR_TOKEN", "short")
                .unwrap();
            $crate::conformance::invalid_setting_is_one_line(&binary, "GRPC_ADDR", "localhost")
                .unwrap();
        }

        #[tokio::test]
        async fn the_binary_serves_health_and_reflection_and_exits_0_on_sigterm() {
            let environment = $crate::environment::TestEnvironment::new().await.unwrap();
            $crate::conformance::serves_and_stops_on_sigterm(
                &startup_binary(&environment),
                &[$grpc_service],
            )
            .await
            .unwrap();
        }

        #[tokio::test]
        async fn with_tls_settings_the_binary_serves_only_mutual_tls() {
            let environment = $crate::environment::TestEnvironment::new().await.unwrap();
            $crate::conformance::serves_mutual_tls(&startup_binary(&environment))
                .await
                .unwrap();
        }

        #[tokio::test]
        async fn in_process_the_app_migrates_serves_and_stops() {
            use $crate::conformance::ServiceApp as _;
            let environment = $crate::environment::TestEnvironment::new().await.unwrap();
            let config: $service::Config = environment.config(&startup_settings()).unwrap();
            let app = $service::App::build(config).await.unwrap();
            $crate::conformance::platform_migrations_ran(app.pool()).await.unwrap();
            let metrics_addr = app
                .metrics_addr()
                .expect("METRICS_ADDR=127.0.0.1:0 serves metrics");
            let service = $crate::service::RunningService::serving(
                $service::BINARY_NAME,
                app.grpc_addr().unwrap(),
                |shutdown| app.run_until(shutdown),
            )
            .await
            .unwrap();
            $crate::conformance::serves_prometheus_metrics(
                metrics_addr,
                service.channel().await.unwrap(),
                $binary,
            )
            .await
            .unwrap();
            service.stop().await.unwrap();
        }

        #[tokio::test]
        async fn with_metrics_addr_off_the_binary_opens_no_metrics_listener() {
            let environment = $crate::environment::TestEnvironment::new().await.unwrap();
            $crate::conformance::serves_no_metrics_when_off(&startup_binary(&environment))
                .await
                .unwrap();
        }
    };
}
