//! The intake's settings and who may post to each endpoint: a bearer token
//! for DSN and ARF (`DELIVERY_REPORTS_TOKEN`, compared in constant time),
//! SNS signatures from an allowed certificate host and topic for SES, and
//! SendGrid's ECDSA signature for SendGrid. An endpoint whose credential
//! is not configured is off (404).

use std::path::PathBuf;

use candor_platform::config::MetricsAddr;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::certificates::{DEFAULT_HOSTS, HostPatterns};
use super::sendgrid::WebhookKey;

/// The delivery-report intake's settings (README "Delivery reports").
#[derive(clap::Args, Debug, Clone)]
pub struct DeliveryReportsConfig {
    /// Address the delivery-report HTTP intake listens on (POST
    /// /delivery-reports/{dsn,arf,ses,sendgrid}), or `off`. It listens only
    /// when at least one of its endpoints has its credential set.
    #[arg(long, env = "DELIVERY_REPORTS_ADDR", default_value = "0.0.0.0:8452")]
    pub delivery_reports_addr: MetricsAddr,

    /// Bearer token for POST /delivery-reports/dsn and /arf (at least 16
    /// characters); those endpoints answer 404 when unset.
    #[arg(long, env = "DELIVERY_REPORTS_TOKEN", value_parser = parse_report_token)]
    pub delivery_reports_token: Option<SecretString>,

    /// The Amazon SNS topic ARNs (comma-separated) whose SES notifications
    /// POST /delivery-reports/ses accepts; the endpoint answers 404 when
    /// unset or empty.
    #[arg(long, env = "SES_SNS_TOPIC_ARNS", default_value = "", hide_default_value = true, value_parser = TopicArns::parse)]
    pub ses_sns_topic_arns: TopicArns,

    /// Hosts SNS signing certificates and subscription confirmations are
    /// fetched from, over https only (comma-separated; `*` stands for one
    /// DNS label; `host:port` allows a port other than 443).
    #[arg(long, env = "SES_SNS_CERTIFICATE_HOSTS", default_value = DEFAULT_HOSTS, value_parser = HostPatterns::parse)]
    pub ses_sns_certificate_hosts: HostPatterns,

    /// PEM file of the only certificate authorities trusted when fetching
    /// from SNS (tests, a TLS-inspecting proxy); the public web roots when
    /// unset.
    #[arg(long, env = "SES_SNS_CA_FILE")]
    pub ses_sns_ca_file: Option<PathBuf>,

    /// The verification key of SendGrid's signed event webhook (base64 DER
    /// public key, as SendGrid shows it); POST /delivery-reports/sendgrid
    /// answers 404 when unset or empty.
    #[arg(long, env = "SENDGRID_WEBHOOK_PUBLIC_KEY", default_value = "", hide_default_value = true, value_parser = SendGridKey::parse)]
    pub sendgrid_webhook_public_key: SendGridKey,
}

impl Default for DeliveryReportsConfig {
    /// Listening on a free loopback port with every endpoint off.
    fn default() -> Self {
        Self {
            delivery_reports_addr: MetricsAddr::loopback_any_port(),
            delivery_reports_token: None,
            ses_sns_topic_arns: TopicArns::default(),
            ses_sns_certificate_hosts: HostPatterns::amazon(),
            ses_sns_ca_file: None,
            sendgrid_webhook_public_key: SendGridKey::default(),
        }
    }
}

impl DeliveryReportsConfig {
    /// Where the intake listens: `None` when `DELIVERY_REPORTS_ADDR` is
    /// `off` or no endpoint has a credential (every one would answer 404).
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        let any_endpoint = self.delivery_reports_token.is_some()
            || !self.ses_sns_topic_arns.is_empty()
            || self.sendgrid_webhook_public_key.0.is_some();
        match self.delivery_reports_addr {
            MetricsAddr::Listen(addr) if any_endpoint => Some(addr),
            _ => None,
        }
    }
}

/// `DELIVERY_REPORTS_TOKEN`: the platform's rule for bearer tokens.
fn parse_report_token(value: &str) -> Result<SecretString, String> {
    candor_platform::auth::check_token_strength(value)?;
    Ok(SecretString::from(value.to_owned()))
}

/// `SENDGRID_WEBHOOK_PUBLIC_KEY`, when set (empty counts as unset, as
/// compose passes an unset variable).
#[derive(Debug, Clone, Default)]
pub struct SendGridKey(pub Option<WebhookKey>);

impl SendGridKey {
    /// Parses the setting: empty, or a key [`WebhookKey::parse`] takes.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.trim().is_empty() {
            return Ok(Self(None));
        }
        WebhookKey::parse(value).map(|key| Self(Some(key)))
    }
}

/// The SNS topics whose notifications are accepted; none turns SES off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicArns(Vec<String>);

impl TopicArns {
    /// Parses `SES_SNS_TOPIC_ARNS`: `arn:aws…:sns:<region>:<account>:<name>`
    /// entries separated by commas; empty for none.
    pub fn parse(value: &str) -> Result<Self, String> {
        parse_topic_arns(value)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `arn` is one of them (exactly).
    pub fn contains(&self, arn: &str) -> bool {
        self.0.iter().any(|known| known == arn)
    }
}

fn parse_topic_arns(value: &str) -> Result<TopicArns, String> {
    let arns: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|arn| !arn.is_empty())
        .map(str::to_owned)
        .collect();
    for (index, arn) in arns.iter().enumerate() {
        let parts: Vec<&str> = arn.split(':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && parts[3..].iter().all(|part| !part.is_empty());
        if !valid {
            return Err(format!(
                "entry {} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
                index + 1
            ));
        }
    }
    Ok(TopicArns(arns))
}

/// The DSN and ARF bearer token, kept as a digest so that comparing takes
/// the same time whatever is presented.
#[derive(Clone)]
pub struct ReportToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for ReportToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ReportToken { .. }")
    }
}

impl ReportToken {
    /// The configured token.
    pub fn new(token: &SecretString) -> Self {
        Self {
            digest: Sha256::digest(token.expose_secret().as_bytes()).into(),
        }
    }

    /// Whether an `authorization` header value is `Bearer <the token>`.
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(presented) = authorization.and_then(bearer) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.digest.ct_eq(&presented))
    }
}

/// The credential of a `Bearer` authorization (scheme case-insensitive).
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, credential) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
        .filter(|credential| !credential.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_admits_only_itself_as_a_bearer() {
        let token = ReportToken::new(&SecretString::from("report-token-0123456789"));
        assert!(token.admits(Some("Bearer report-token-0123456789")));
        assert!(token.admits(Some("bearer  report-token-0123456789 ")));
        assert!(!token.admits(Some("Bearer report-token-012345678")));
        assert!(!token.admits(Some("Basic report-token-0123456789")));
        assert!(!token.admits(Some("report-token-0123456789")));
        assert!(!token.admits(None));
        assert_eq!(format!("{token:?}"), "ReportToken { .. }");
    }

    #[test]
    fn topic_arns_are_checked_and_matched_exactly() {
        let arns = parse_topic_arns(
            "arn:aws:sns:eu-west-1:123456789012:ses-bounces, arn:aws-cn:sns:cn-north-1:123456789012:x",
        )
        .unwrap();
        assert!(arns.contains("arn:aws:sns:eu-west-1:123456789012:ses-bounces"));
        assert!(!arns.contains("arn:aws:sns:eu-west-1:123456789012:ses"));
        assert!(parse_topic_arns(" ").unwrap().is_empty());
        let error =
            parse_topic_arns("arn:aws:sns:eu-west-1:1:a,arn:aws:sqs:eu-west-1:1:b").unwrap_err();
        assert!(error.contains("entry 2"), "{error}");
    }

    #[test]
    fn the_default_is_every_endpoint_off() {
        let config = DeliveryReportsConfig::default();
        assert!(config.delivery_reports_token.is_none());
        assert!(config.ses_sns_topic_arns.is_empty());
        assert!(config.sendgrid_webhook_public_key.0.is_none());
        assert!(SendGridKey::parse("").unwrap().0.is_none());
        assert!(SendGridKey::parse("nonsense").is_err());
        assert_eq!(config.listen_addr(), None, "nothing to listen for");
        let with_token = DeliveryReportsConfig {
            delivery_reports_token: Some(SecretString::from("report-token-0123456789")),
            ..DeliveryReportsConfig::default()
        };
        assert!(with_token.listen_addr().is_some());
        let off = DeliveryReportsConfig {
            delivery_reports_addr: MetricsAddr::Off,
            ..with_token
        };
        assert_eq!(off.listen_addr(), None);
    }
}
