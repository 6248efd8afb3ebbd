//! Every setting of candor-account: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::{MetricsAddr, parse_http_url, parse_secret_key};
use candor_platform::parking::ParkingConfig;
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

    /// Address Prometheus metrics are served on (`GET /metrics`), or `off`.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9451")]
    pub metrics_addr: MetricsAddr,

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

    /// Lifetime of a member session in seconds (default 30 days).
    #[arg(long, env = "SESSION_TTL_SECONDS", default_value_t = 2_592_000, value_parser = clap::value_parser!(u32).range(60..))]
    pub session_ttl_seconds: u32,

    /// Password hashes computed at the same time; 0 means one per CPU core.
    /// Logins beyond it queue instead of starving the other RPCs.
    #[arg(long, env = "PASSWORD_HASHING_CONCURRENCY", default_value_t = 0)]
    pub password_hashing_concurrency: usize,

    /// Failed logins for one email address before each further failure
    /// blocks that address for a growing delay.
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_account: u32,

    /// Failed logins from one client address before each further failure
    /// blocks that address for a growing delay.
    #[arg(long, env = "LOGIN_FAILURES_PER_ADDRESS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_address: u32,

    /// Registrations (and password reset requests) one client address may
    /// make per hour.
    #[arg(long, env = "REQUESTS_PER_ADDRESS_PER_HOUR", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub requests_per_address_per_hour: u32,

    /// Highest argon2 memory cost (KiB) of a hash this service did not
    /// compute: an imported hash above it is rejected, a stored one is never
    /// evaluated. Default: OWASP's largest recommended setting (46 MiB).
    #[arg(long, env = "ARGON2_MAX_MEMORY_KIB", default_value_t = 47_104, value_parser = clap::value_parser!(u32).range(8..=4_194_304))]
    pub argon2_max_memory_kib: u32,

    /// Highest argon2 iteration count of a hash this service did not compute.
    #[arg(long, env = "ARGON2_MAX_ITERATIONS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub argon2_max_iterations: u32,

    /// Highest argon2 parallelism (lanes) of a hash this service did not
    /// compute.
    #[arg(long, env = "ARGON2_MAX_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub argon2_max_parallelism: u32,

    /// Base URL of a Pwned Passwords range API (Have I Been Pwned's
    /// k-anonymity protocol: `GET {url}/range/{first 5 hex of SHA-1}`), e.g.
    /// https://api.pwnedpasswords.com. Unset (the default): only the bundled
    /// list of 100,000 common passwords is checked.
    #[arg(long, env = "PWNED_PASSWORDS_URL", value_parser = parse_http_url)]
    pub pwned_passwords_url: Option<String>,

    /// How long a range request may take, in milliseconds; past it (or on
    /// any error) the password is accepted and a warning logged (fail open).
    #[arg(long, env = "PWNED_PASSWORDS_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=30_000))]
    pub pwned_passwords_timeout_ms: u64,

    /// How long a notice report waits for its incident
    /// (PARKED_MESSAGE_TTL_SECONDS).
    #[command(flatten)]
    pub parking: ParkingConfig,

    #[command(flatten)]
    pub common: CommonConfig,
}
