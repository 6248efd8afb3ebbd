//! Every setting of candor-account: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::{parse_http_url, parse_secret_key};
use secrecy::SecretString;

/// candor-account's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "candor-account",
    version,
    about = "Candor account service: members, passwords, sessions, breach intake"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50051")]
    pub grpc_addr: SocketAddr,

    /// Base URL of the public site, for links in emails (reset, deactivation).
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://localhost:8080", value_parser = parse_http_url)]
    pub public_base_url: String,

    /// gRPC URL of the notification service (password reset and
    /// deactivation emails).
    #[arg(long, env = "NOTIFICATION_GRPC_URL", default_value = "http://127.0.0.1:50052", value_parser = parse_http_url)]
    pub notification_grpc_url: String,

    /// Server-side key that wraps imported legacy password hashes
    /// (HMAC-SHA-256); at least 32 characters. Never stored in the database.
    #[arg(long, env = "LEGACY_HASH_KEY", value_parser = parse_secret_key)]
    pub legacy_hash_key: SecretString,

    #[command(flatten)]
    pub common: CommonConfig,
}
