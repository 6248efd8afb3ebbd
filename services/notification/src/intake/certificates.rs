//! Where SNS signing certificates (and subscription confirmations) may be
//! fetched from, and the fetching: only `https` URLs whose host matches
//! `SES_SNS_CERTIFICATE_HOSTS` (by default `sns.<region>.amazonaws.com` and
//! its China twin), no redirects, no credentials in the URL, a small
//! answer, a short timeout. A certificate's RSA key is cached by URL (SNS
//! signs with a handful of certificates), so a stream of notifications
//! costs one fetch. Fetches are blocking (ureq) and run on the blocking
//! pool.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;

/// The hosts SNS serves certificates and subscription confirmations from.
pub const DEFAULT_HOSTS: &str = "sns.*.amazonaws.com,sns.*.amazonaws.com.cn";

/// Largest certificate (or confirmation answer) read.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Certificates kept; past this the cache starts over (SNS rotates its
/// certificate rarely, so this is never reached in practice).
const MAX_CACHED: usize = 32;

/// Host patterns: exact names, or names where `*` stands for one DNS label
/// (`sns.*.amazonaws.com`), each optionally with `:port` (an entry without
/// a port allows only the default port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPatterns(Vec<String>);

impl HostPatterns {
    /// [`DEFAULT_HOSTS`]: the hosts of Amazon SNS.
    pub fn amazon() -> Self {
        Self(DEFAULT_HOSTS.split(',').map(str::to_owned).collect())
    }

    /// Parses a comma-separated list.
    pub fn parse(value: &str) -> Result<Self, String> {
        let patterns: Vec<String> = value
            .split(',')
            .map(|entry| entry.trim().to_ascii_lowercase())
            .filter(|entry| !entry.is_empty())
            .collect();
        if patterns.is_empty() {
            return Err("must name at least one host".to_owned());
        }
        for pattern in &patterns {
            let valid = pattern
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'));
            if !valid || pattern.starts_with('*') && !pattern.starts_with("*.") {
                return Err(format!("{pattern:?} is not a host name or pattern"));
            }
        }
        Ok(Self(patterns))
    }

    /// Whether `url` is an `https` URL on an allowed host and port, with no
    /// user name or password.
    pub fn allows(&self, url: &url::Url) -> bool {
        if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        self.0
            .iter()
            .any(|pattern| matches_pattern(pattern, &authority))
    }
}

/// Label-by-label match; `*` matches one label of letters, digits and `-`.
fn matches_pattern(pattern: &str, authority: &str) -> bool {
    let wanted: Vec<&str> = pattern.split('.').collect();
    let given: Vec<&str> = authority.split('.').collect();
    wanted.len() == given.len()
        && wanted.iter().zip(&given).all(|(wanted, given)| {
            if *wanted == "*" {
                !given.is_empty() && given.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            } else {
                wanted == given
            }
        })
}

/// Why a certificate or confirmation URL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not on an allowed host (401: not from SNS).
    #[error("{0} is not an https URL on an allowed SNS host")]
    NotAllowed(&'static str),
    /// The certificate is not an RSA certificate valid now (401).
    #[error("the signing certificate is unusable: {0}")]
    Unusable(String),
    /// The host did not answer well (503: SNS retries).
    #[error("fetching from SNS failed")]
    Unreachable(#[source] anyhow::Error),
}

/// Fetches and caches SNS signing certificates.
pub struct SnsCertificates {
    hosts: HostPatterns,
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl SnsCertificates {
    /// A fetcher for `hosts`; with `ca_file`, only the PEM certificate
    /// authorities in it are trusted for the fetches (instead of the public
    /// web roots).
    pub fn new(hosts: HostPatterns, ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("SES_SNS_CA_FILE {}: cannot read", path.display()))?;
            let roots: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(certificate)) => Some(certificate),
                    _ => None,
                })
                .collect();
            anyhow::ensure!(
                !roots.is_empty(),
                "SES_SNS_CA_FILE {}: no PEM certificate in it",
                path.display()
            );
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
        let agent = ureq::Agent::config_builder()
            .https_only(true)
            .max_redirects(0)
            .timeout_global(Some(FETCH_TIMEOUT))
            .http_status_as_error(true)
            .user_agent("candor-notification")
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(Self {
            hosts,
            agent,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The RSA public key (`RSAPublicKey` DER) of the certificate at
    /// `url`, from the cache or fetched.
    pub async fn signing_key(self: &Arc<Self>, url: &str) -> Result<Arc<Vec<u8>>, FetchError> {
        let parsed = self.allowed(url, "SigningCertURL")?;
        if let Some(key) = self.cached(url) {
            return Ok(key);
        }
        let fetcher = Arc::clone(self);
        let pem = tokio::task::spawn_blocking(move || fetcher.get(&parsed))
            .await
            .map_err(|error| FetchError::Unreachable(error.into()))??;
        let key = Arc::new(rsa_key_of(&pem, chrono::Utc::now()).map_err(FetchError::Unusable)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(url.to_owned(), Arc::clone(&key));
        }
        Ok(key)
    }

    /// Confirms a subscription by visiting its `SubscribeURL`.
    pub async fn confirm(self: &Arc<Self>, subscribe_url: &str) -> Result<(), FetchError> {
        let parsed = self.allowed(subscribe_url, "SubscribeURL")?;
        let fetcher = Arc::clone(self);
        tokio::task::spawn_blocking(move || fetcher.get(&parsed))
            .await
            .map_err(|error| FetchError::Unreachable(error.into()))??;
        Ok(())
    }

    fn allowed(&self, url: &str, what: &'static str) -> Result<url::Url, FetchError> {
        url::Url::parse(url)
            .ok()
            .filter(|parsed| self.hosts.allows(parsed))
            .ok_or(FetchError::NotAllowed(what))
    }

    fn cached(&self, url: &str) -> Option<Arc<Vec<u8>>> {
        self.cache.lock().ok()?.get(url).cloned()
    }

    /// A blocking GET of an allowed URL, the answer's bytes.
    fn get(&self, url: &url::Url) -> Result<Vec<u8>, FetchError> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .with_context(|| format!("GET https://{host}/…"))
            .map_err(FetchError::Unreachable)?;
        response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .with_context(|| format!("reading the answer of {host}"))
            .map_err(FetchError::Unreachable)
    }
}

/// The RSA public key of a PEM certificate valid at `now`.
fn rsa_key_of(pem: &[u8], now: chrono::DateTime<chrono::Utc>) -> Result<Vec<u8>, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|_| "not a PEM certificate")?;
    let certificate = pem
        .parse_x509()
        .map_err(|_| "not an X.509 certificate".to_owned())?;
    let validity = certificate.validity();
    let now = now.timestamp();
    if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
        return Err("not valid now".to_owned());
    }
    let key = certificate.public_key();
    if key.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
        return Err("not an RSA key".to_owned());
    }
    Ok(key.subject_public_key.data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn only_https_on_sns_hosts_is_allowed() {
        let hosts = HostPatterns::amazon();
        assert_eq!(hosts, HostPatterns::parse(DEFAULT_HOSTS).unwrap());
        for allowed in [
            "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
            "https://SNS.eu-central-1.amazonaws.com/x.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
        ] {
            assert!(hosts.allows(&url(allowed)), "{allowed}");
        }
        for refused in [
            "http://sns.us-west-2.amazonaws.com/x.pem",
            "https://sns.us-west-2.amazonaws.com:8443/x.pem",
            "https://sns.evil.example/x.pem",
            "https://sns.us-west-2.amazonaws.com.evil.example/x.pem",
            "https://evil.sns.us-west-2.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://user:pw@sns.us-west-2.amazonaws.com/x.pem",
            "https://s3.amazonaws.com/sns.us-west-2.amazonaws.com/x.pem",
        ] {
            assert!(!hosts.allows(&url(refused)), "{refused}");
        }
        let local = HostPatterns::parse("localhost:8443").unwrap();
        assert!(local.allows(&url("https://localhost:8443/cert.pem")));
        assert!(!local.allows(&url("https://localhost/cert.pem")));
        assert!(HostPatterns::parse(" , ").is_err());
        assert!(HostPatterns::parse("bad host").is_err());
    }

    #[test]
    fn certificates_must_be_rsa() {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["sns.example".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let error = rsa_key_of(certificate.pem().as_bytes(), chrono::Utc::now()).unwrap_err();
        assert_eq!(error, "not an RSA key");
        let later = chrono::Utc::now() + chrono::Duration::days(365 * 5000);
        let error = rsa_key_of(certificate.pem().as_bytes(), later).unwrap_err();
        assert_eq!(error, "not valid now");
        assert!(rsa_key_of(b"garbage", chrono::Utc::now()).is_err());
    }
}
