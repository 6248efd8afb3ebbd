//! Every setting of candor-notification: a flag and an environment variable each.

use std::net::SocketAddr;

use candor_platform::config::CommonConfig;
use candor_platform::config::{MetricsAddr, parse_http_url, parse_smtp_url};
use secrecy::SecretString;

use crate::domain::organisation;

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

    /// Address Prometheus metrics are served on (`GET /metrics`), or `off`.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9452")]
    pub metrics_addr: MetricsAddr,

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

    /// `From` of every email (`address` or `Display Name <address>`;
    /// without a display name, ORGANISATION_NAME is shown); its domain also
    /// names the Message-IDs.
    #[arg(long, env = "EMAIL_FROM", default_value = "notices@candor.example", value_parser = parse_mailbox)]
    pub email_from: String,

    /// The organisation the emails speak for: "a data breach at NAME",
    /// "your NAME account", and every signature. Required: no notice goes
    /// out in another organisation's name.
    #[arg(long, env = "ORGANISATION_NAME", value_parser = organisation::parse_name)]
    pub organisation_name: String,

    /// Where members reach the organisation, under every signature: an
    /// email address or an http(s) URL. Unset or empty: EMAIL_FROM's
    /// address.
    #[arg(long, env = "ORGANISATION_CONTACT", value_parser = organisation::parse_contact)]
    pub organisation_contact: Option<String>,

    /// An http(s) URL of the organisation's logo, shown above the HTML
    /// breach notice. Unset or empty: no logo.
    #[arg(long, env = "ORGANISATION_LOGO_URL", value_parser = organisation::parse_logo_url)]
    pub organisation_logo_url: Option<String>,

    /// Seconds a breach notice waits for the incident's forum thread link
    /// (counted from when the incident was recorded); after that it goes out
    /// without the link, and the progress report counts it.
    #[arg(long, env = "THREAD_LINK_WAIT_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=604_800))]
    pub thread_link_wait_seconds: u64,

    /// Emails accepted per second by the SMTP server, for all replicas
    /// together (a token bucket shared in PostgreSQL); 0 means no limit.
    #[arg(long, env = "SEND_RATE_PER_SECOND", default_value_t = 14.0, value_parser = parse_rate)]
    pub send_rate_per_second: f64,

    /// SMTP transactions in flight at once per replica (also the most SMTP
    /// connections a replica opens).
    #[arg(long, env = "SMTP_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub smtp_concurrency: u32,

    /// PEM file of certificate authorities to trust for the SMTP server's
    /// TLS certificate besides the public web roots (a private CA); unset
    /// for none.
    #[arg(long, env = "SMTP_CA_FILE")]
    pub smtp_ca_file: Option<std::path::PathBuf>,

    /// Seconds to wait for the SMTP server to connect or answer a command.
    #[arg(long, env = "SMTP_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub smtp_timeout_seconds: u64,

    /// Seconds between two probes of the SMTP server (connect, NOOP) for the
    /// health service name `candor.notification.v1.NotificationService.Sending`,
    /// NOT_SERVING while the server cannot be reached; the sender's own
    /// connections report too.
    #[arg(long, env = "SMTP_PROBE_INTERVAL_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub smtp_probe_interval_seconds: u64,

    /// SMTP transactions per job before it fails for good (transient
    /// failures only; a 5xx fails it at once).
    #[arg(long, env = "SEND_MAX_ATTEMPTS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub send_max_attempts: u32,

    /// Milliseconds before the first retry of a transient failure; doubles
    /// (with jitter) per attempt up to SEND_RETRY_MAX_MS.
    #[arg(long, env = "SEND_RETRY_INITIAL_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub send_retry_initial_ms: u64,

    /// Longest wait between two attempts of a job, in milliseconds.
    #[arg(long, env = "SEND_RETRY_MAX_MS", default_value_t = 900_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub send_retry_max_ms: u64,

    /// Seconds after which a job left SENDING without a sender lease (claimed
    /// by a release before leases, which refreshed the jobs it held) is
    /// taken for abandoned and queued again, counted as possibly re-sent.
    #[arg(long, env = "SENDING_STALE_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub sending_stale_seconds: u64,

    /// Seconds a replica's sender lease lasts unrenewed; it is renewed every
    /// third of this. When a replica dies, the notices it held SENDING are
    /// queued again (counted as possibly re-sent) about this long after its
    /// last renewal; a replica that cannot renew for most of this stops
    /// sending under it.
    #[arg(long, env = "SENDER_LEASE_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(3..=600))]
    pub sender_lease_seconds: u64,

    /// Soft bounces (a full mailbox, a provider's temporary refusal after
    /// accepting) after which an email counts as bounced: each one before
    /// queues it again, 15 minutes later for the first, 30 for the second …
    /// (transactional emails are not sent again: their content is erased
    /// once sent). 0: the first soft bounce is a hard bounce.
    #[arg(long, env = "SOFT_BOUNCE_MAX_RETRIES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub soft_bounce_max_retries: u32,
    /// The delivery-report HTTP intake (DELIVERY_REPORTS_ADDR and the
    /// providers' credentials).
    #[command(flatten)]
    pub delivery_reports: crate::intake::DeliveryReportsConfig,

    /// How long a batch waits for its incident (PARKED_MESSAGE_TTL_SECONDS).
    #[command(flatten)]
    pub parking: candor_platform::parking::ParkingConfig,

    #[command(flatten)]
    pub common: CommonConfig,
}

impl Config {
    /// Who the emails come from and speak for.
    pub fn email_identity(&self) -> crate::notice::EmailIdentity<'_> {
        crate::notice::EmailIdentity {
            from: &self.email_from,
            organisation_name: &self.organisation_name,
            organisation_contact: self.organisation_contact.as_deref(),
            organisation_logo_url: self.organisation_logo_url.as_deref(),
        }
    }
}

/// Parses `EMAIL_FROM`: an RFC 5322 mailbox lettre accepts.
fn parse_mailbox(value: &str) -> Result<String, String> {
    value
        .parse::<lettre::message::Mailbox>()
        .map(|_| value.to_owned())
        .map_err(|error| format!("must be a mailbox like `Acme <notices@example.org>`: {error}"))
}

/// Parses `SEND_RATE_PER_SECOND`: a finite number >= 0.
fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && (0.0..=1_000_000.0).contains(&rate) => Ok(rate),
        _ => Err("must be a number from 0 (no limit) to 1000000".to_owned()),
    }
}
