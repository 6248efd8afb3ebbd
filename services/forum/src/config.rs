//! Every setting of candor-forum: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::parse_http_url;

/// candor-forum's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "candor-forum",
    version,
    about = "Candor forum service: boards, threads, posts and the incident thread"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50054")]
    pub grpc_addr: SocketAddr,

    /// gRPC URL of the account service (session validation).
    #[arg(long, env = "ACCOUNT_GRPC_URL", default_value = "http://127.0.0.1:50051", value_parser = parse_http_url)]
    pub account_grpc_url: String,

    /// Base URL of the public site, for thread and deactivation links.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://localhost:8080", value_parser = parse_http_url)]
    pub public_base_url: String,

    #[command(flatten)]
    pub common: CommonConfig,
}
