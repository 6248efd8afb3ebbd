//! Every setting of candor-web: a flag and an environment variable each.
//! Secrets (`FRONTEND_TOKEN`, `WEB_COOKIE_KEY`) may also come from a file
//! named by their `*_FILE` variable, as the services' secrets do.

use std::net::SocketAddr;

use candor_platform::config::{
    GrpcTlsConfig, TelemetryConfig, parse_http_url, parse_secret_key, parse_token,
};
use secrecy::SecretString;

/// candor-web's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "candor-web",
    version,
    about = "Candor's reference web front end: password reset, deactivation, sign-in, notices and the incident threads"
)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "WEB_ADDR", default_value = "0.0.0.0:8080")]
    pub web_addr: SocketAddr,

    /// gRPC URL of the account service.
    #[arg(long, env = "ACCOUNT_GRPC_URL", default_value = "http://127.0.0.1:50051", value_parser = parse_http_url)]
    pub account_grpc_url: String,

    /// gRPC URL of the forum service.
    #[arg(long, env = "FORUM_GRPC_URL", default_value = "http://127.0.0.1:50054", value_parser = parse_http_url)]
    pub forum_grpc_url: String,

    /// This front end's own credential (the `frontend` caller's token in the
    /// services' CALLER_TOKENS), presented in `x-caller-authorization` on
    /// every call, beside the member's session when it forwards one.
    #[arg(long, env = "FRONTEND_TOKEN", value_parser = parse_token)]
    pub frontend_token: SecretString,

    /// Secret key (at least 32 characters) the CSRF tokens of the forms are
    /// derived from with HMAC-SHA256. Changing it invalidates open forms.
    #[arg(long, env = "WEB_COOKIE_KEY", value_parser = parse_secret_key)]
    pub web_cookie_key: SecretString,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,

    #[command(flatten)]
    pub grpc_tls: GrpcTlsConfig,

    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}
