//! Every setting of candor-notification: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::{parse_http_url, parse_smtp_url};
use secrecy::SecretString;

/// candor-notification's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "candor-notification",
    version,
    about = "Candor notification service: breach notices and transactional email over SMTP"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50052")]
    pub grpc_addr: SocketAddr,

    /// SMTP server notices are sent through (`smtp://host:port`,
    /// `smtps://user:password@host:465`, `smtp://host:587?tls=required`).
    #[arg(long, env = "SMTP_URL", default_value = "smtp://127.0.0.1:1025", value_parser = parse_smtp_url)]
    pub smtp_url: SecretString,

    /// Base URL of the public site, for links in emails.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://localhost:8080", value_parser = parse_http_url)]
    pub public_base_url: String,

    /// gRPC URL of the account service.
    #[arg(long, env = "ACCOUNT_GRPC_URL", default_value = "http://127.0.0.1:50051", value_parser = parse_http_url)]
    pub account_grpc_url: String,

    /// gRPC URL of the forum service.
    #[arg(long, env = "FORUM_GRPC_URL", default_value = "http://127.0.0.1:50054", value_parser = parse_http_url)]
    pub forum_grpc_url: String,

    #[command(flatten)]
    pub common: CommonConfig,
}
