//! Every setting of candor-forum: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::MetricsAddr;
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

    /// Address Prometheus metrics are served on (`GET /metrics`), or `off`.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9454")]
    pub metrics_addr: MetricsAddr,

    /// gRPC URL of the account service (session validation).
    #[arg(long, env = "ACCOUNT_GRPC_URL", default_value = "http://127.0.0.1:50051", value_parser = parse_http_url)]
    pub account_grpc_url: String,

    /// Base URL of the public site, for thread and deactivation links.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://localhost:8080", value_parser = parse_http_url)]
    pub public_base_url: String,

    /// Minimum seconds between two posts of one member (staff and the system
    /// account are not limited); 0 turns the limit off.
    #[arg(long, env = "FORUM_POST_INTERVAL_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=3600))]
    pub post_interval_seconds: u32,

    /// Seconds a validated session is remembered before the account service
    /// is asked again (never past the session's expiry): 0 or 1, so a
    /// session ended by Logout, RevokeAllSessions, a password change or a
    /// deactivation is refused here within a second.
    #[arg(long, env = "FORUM_SESSION_CACHE_SECONDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=1))]
    pub session_cache_seconds: u32,

    /// Most sessions the cache holds at once.
    #[arg(long, env = "FORUM_SESSION_CACHE_CAPACITY", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub session_cache_capacity: u32,

    /// Milliseconds a ListPosts page is served from this replica's memory;
    /// writes through this replica show at once, other replicas' after at
    /// most this long. 0 turns the cache off.
    #[arg(long, env = "FORUM_PAGE_CACHE_MILLIS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub page_cache_millis: u64,

    #[command(flatten)]
    pub common: CommonConfig,
}
