//! Every setting of candor-membership: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::MetricsAddr;
use candor_platform::config::parse_http_url;
use candor_platform::parking::ParkingConfig;

/// candor-membership's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "candor-membership",
    version,
    about = "Candor membership service: tiers and the credit ledger"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50053")]
    pub grpc_addr: SocketAddr,

    /// Address Prometheus metrics are served on (`GET /metrics`), or `off`.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9453")]
    pub metrics_addr: MetricsAddr,

    /// gRPC URL of the account service.
    #[arg(long, env = "ACCOUNT_GRPC_URL", default_value = "http://127.0.0.1:50051", value_parser = parse_http_url)]
    pub account_grpc_url: String,

    /// Queue messages handled at the same time. Each AccountsAffected batch
    /// is one transaction, so this is also how many batches commit in
    /// parallel (handlers beyond DATABASE_MAX_CONNECTIONS wait for a
    /// connection).
    #[arg(long, env = "CONSUMER_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub consumer_concurrency: u16,

    /// How long a batch waits for its incident (PARKED_MESSAGE_TTL_SECONDS).
    #[command(flatten)]
    pub parking: ParkingConfig,

    #[command(flatten)]
    pub common: CommonConfig,
}
