//! `candorctl health`: the standard `grpc.health.v1.Health/Check` of every
//! service from the connection settings, or of one `--addr`, asked at once.
//! One line per service (service, address, status); exit 0 only when every
//! one is SERVING.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{EXIT_NOT_OK, EXIT_UNREACHABLE};
use crate::endpoints::{Endpoints, grpc_url};
use crate::errors;
use crate::output::style::{Tone, paint, stdout_colour};
use crate::output::{self, OutputArgs, table};

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// Check only this gRPC address, e.g. 127.0.0.1:50051 (`http://` is
    /// assumed; `https://` for a service with TLS on). Without it, every
    /// service of the connection settings is checked.
    #[arg(long)]
    addr: Option<String>,

    /// Health service name to check; empty means the whole server.
    #[arg(long, default_value = "")]
    service: String,

    /// Seconds before giving up on a service.
    #[arg(long, default_value_t = 5)]
    timeout_seconds: u64,

    #[command(flatten)]
    output: OutputArgs,
}

/// One service's answer.
#[derive(Debug, Serialize)]
pub struct HealthLine {
    /// `account`, …; empty for an `--addr` of unknown service.
    pub service: String,
    pub address: String,
    pub status: Health,
    /// Why the service could not be asked (only when `unreachable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A health answer in lower snake_case (JSON) or words (table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Serving,
    NotServing,
    ServiceUnknown,
    Unknown,
    Unreachable,
}

impl Health {
    fn words(self) -> &'static str {
        match self {
            Health::Serving => "serving",
            Health::NotServing => "not serving",
            Health::ServiceUnknown => "no such health service",
            Health::Unknown => "unknown",
            Health::Unreachable => "unreachable",
        }
    }
}

pub async fn run(args: HealthArgs, endpoints: &Endpoints) -> ExitCode {
    let targets: Vec<(String, String)> = match &args.addr {
        Some(address) => {
            let address = grpc_url(address.clone());
            let service = endpoints
                .services()
                .into_iter()
                .find(|(_, url)| *url == address)
                .map(|(name, _)| name.to_owned())
                .unwrap_or_default();
            vec![(service, address)]
        }
        None => endpoints
            .services()
            .into_iter()
            .map(|(name, url)| (name.to_owned(), url.to_owned()))
            .collect(),
    };
    let timeout = Duration::from_secs(args.timeout_seconds);
    let checks = targets.into_iter().map(|(service, address)| {
        let health_service = args.service.clone();
        async move {
            let answer =
                tokio::time::timeout(timeout, check(endpoints, &address, health_service)).await;
            let (status, error) = match answer {
                Ok(Ok(status)) => (status, None),
                Ok(Err(error)) => (Health::Unreachable, Some(errors::describe_anyhow(&error))),
                Err(_) => (
                    Health::Unreachable,
                    Some(format!("no answer within {}s", timeout.as_secs())),
                ),
            };
            HealthLine {
                service,
                address,
                status,
                error,
            }
        }
    });
    let lines = futures::future::join_all(checks).await;
    output::emit(args.output.output, &lines, |lines| {
        render(lines, stdout_colour())
    });
    if lines.iter().any(|line| line.status == Health::Unreachable) {
        ExitCode::from(EXIT_UNREACHABLE)
    } else if lines.iter().all(|line| line.status == Health::Serving) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_OK)
    }
}

fn render(lines: &[HealthLine], colour: bool) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|line| {
            let status = match &line.error {
                Some(error) => format!("{}: {error}", line.status.words()),
                None => line.status.words().to_owned(),
            };
            let tone = if line.status == Health::Serving {
                Tone::Good
            } else {
                Tone::Bad
            };
            let service = if line.service.is_empty() {
                "-".to_owned()
            } else {
                line.service.clone()
            };
            // The status is the last column, so colour does not upset the
            // alignment.
            vec![service, line.address.clone(), paint(&status, tone, colour)]
        })
        .collect();
    table::columns(&["SERVICE", "ADDRESS", "STATUS"], &rows)
}

async fn check(endpoints: &Endpoints, address: &str, service: String) -> anyhow::Result<Health> {
    // Inside a service's container the service's own GRPC_TLS_* settings
    // apply, so the healthcheck also passes mutual TLS.
    let channel = endpoints.plain_channel(address)?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest { service })
        .await?
        .into_inner();
    Ok(match response.status() {
        ServingStatus::Serving => Health::Serving,
        ServingStatus::NotServing => Health::NotServing,
        ServingStatus::ServiceUnknown => Health::ServiceUnknown,
        ServingStatus::Unknown => Health::Unknown,
    })
}
