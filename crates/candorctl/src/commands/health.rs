//! `candorctl health`: one standard `grpc.health.v1.Health/Check` call.

use std::process::ExitCode;
use std::time::Duration;

use candor_platform::config::GrpcTlsConfig;
use candor_platform::grpc::GrpcTls;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{EXIT_NOT_OK, EXIT_UNREACHABLE};

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// gRPC address of the service, e.g. http://127.0.0.1:50051
    /// (`https://` for a service with TLS on).
    #[arg(long)]
    addr: String,

    /// Health service name to check; empty means the whole server.
    #[arg(long, default_value = "")]
    service: String,

    /// Seconds before giving up.
    #[arg(long, default_value_t = 5)]
    timeout_seconds: u64,

    #[command(flatten)]
    tls: GrpcTlsConfig,
}

pub async fn run(args: HealthArgs) -> ExitCode {
    let timeout = Duration::from_secs(args.timeout_seconds);
    match tokio::time::timeout(timeout, check(&args)).await {
        Ok(Ok(ServingStatus::Serving)) => {
            println!("{} SERVING", args.addr);
            ExitCode::SUCCESS
        }
        Ok(Ok(status)) => {
            println!("{} {}", args.addr, status.as_str_name());
            ExitCode::from(EXIT_NOT_OK)
        }
        Ok(Err(error)) => {
            eprintln!("candorctl: cannot check health of {}: {error:#}", args.addr);
            ExitCode::from(EXIT_UNREACHABLE)
        }
        Err(_) => {
            eprintln!("candorctl: {} did not answer within {timeout:?}", args.addr);
            ExitCode::from(EXIT_UNREACHABLE)
        }
    }
}

async fn check(args: &HealthArgs) -> anyhow::Result<ServingStatus> {
    // Inside a service's container the service's own GRPC_TLS_* settings
    // apply, so the healthcheck also passes mutual TLS.
    let channel = GrpcTls::load(&args.tls, false)?.streaming_client_channel(&args.addr)?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await?
        .into_inner();
    Ok(response.status())
}
