//! TLS for gRPC, switched on by configuration: a service serves TLS when it
//! has a certificate, verifies the services it calls at `https://` URLs
//! against `GRPC_TLS_CA_FILE` (or the system's roots), presents its own
//! certificate to them, and can require callers to present one (mutual TLS).
//!
//! Files are read and checked when the service starts, so a bad path or PEM
//! stops the start with a message naming the setting.

use std::path::Path;

use anyhow::Context as _;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::GrpcTlsConfig;

/// The loaded TLS settings of one process.
#[derive(Debug, Clone, Default)]
pub struct GrpcTls {
    server: Option<ServerTlsConfig>,
    ca: Option<Certificate>,
    identity: Option<Identity>,
}

impl GrpcTls {
    /// Plain-text serving; `https://` URLs verified against the system's
    /// roots, no client certificate. What tools and tests use by default.
    pub fn system_roots() -> Self {
        Self::default()
    }

    /// Reads and checks the files named by `config`. `require_client_cert`
    /// (`GRPC_TLS_REQUIRE_CLIENT_CERT`) needs both a certificate and a CA.
    pub fn load(config: &GrpcTlsConfig, require_client_cert: bool) -> anyhow::Result<Self> {
        install_crypto_provider();
        let identity = match (&config.grpc_tls_cert_file, &config.grpc_tls_key_file) {
            (Some(cert), Some(key)) => Some(Identity::from_pem(
                read_pem(cert, "GRPC_TLS_CERT_FILE", "CERTIFICATE")?,
                read_pem(key, "GRPC_TLS_KEY_FILE", "PRIVATE KEY")?,
            )),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!("GRPC_TLS_CERT_FILE is set without GRPC_TLS_KEY_FILE"),
            (None, Some(_)) => anyhow::bail!("GRPC_TLS_KEY_FILE is set without GRPC_TLS_CERT_FILE"),
        };
        let ca = match &config.grpc_tls_ca_file {
            Some(path) => Some(Certificate::from_pem(read_pem(
                path,
                "GRPC_TLS_CA_FILE",
                "CERTIFICATE",
            )?)),
            None => None,
        };
        if require_client_cert && (identity.is_none() || ca.is_none()) {
            anyhow::bail!(
                "GRPC_TLS_REQUIRE_CLIENT_CERT=true needs GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE"
            );
        }
        let server = identity.clone().map(|identity| {
            let server = ServerTlsConfig::new().identity(identity);
            match (&ca, require_client_cert) {
                (Some(ca), true) => server.client_ca_root(ca.clone()),
                _ => server,
            }
        });
        let tls = Self {
            server,
            ca,
            identity,
        };
        tls.check()?;
        Ok(tls)
    }

    /// The server side, when this service serves TLS.
    pub fn server_config(&self) -> Option<ServerTlsConfig> {
        self.server.clone()
    }

    /// The client side for `https://` URLs.
    pub fn client_config(&self) -> ClientTlsConfig {
        let config = match &self.ca {
            Some(ca) => ClientTlsConfig::new().ca_certificate(ca.clone()),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        match &self.identity {
            Some(identity) => config.identity(identity.clone()),
            None => config,
        }
    }

    /// A channel to another Candor service that connects lazily (a service
    /// may start before the one it calls) and reconnects by itself; TLS for
    /// an `https://` URL. Every call on it must finish within 30 s. For
    /// tests and tools; services call through [`GrpcTls::connection`].
    pub fn client_channel(&self, url: &str) -> anyhow::Result<Channel> {
        Ok(self
            .endpoint(url)?
            .timeout(std::time::Duration::from_secs(30))
            .connect_lazy())
    }

    /// Like [`GrpcTls::client_channel`] without a deadline per call, for
    /// streams that legitimately run for minutes (a million-record import).
    pub fn streaming_client_channel(&self, url: &str) -> anyhow::Result<Channel> {
        Ok(self.endpoint(url)?.connect_lazy())
    }

    fn endpoint(&self, url: &str) -> anyhow::Result<tonic::transport::Endpoint> {
        let endpoint = super::plain_endpoint(url)?;
        if url.starts_with("https://") {
            endpoint
                .tls_config(self.client_config())
                .with_context(|| format!("TLS settings for {url}"))
        } else {
            Ok(endpoint)
        }
    }

    /// Builds both sides once, so a certificate and key that do not match,
    /// or PEM without a usable key, fail at start rather than at the first
    /// connection.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(server) = &self.server {
            tonic::transport::Server::builder()
                .tls_config(server.clone())
                .map_err(|error| {
                    anyhow::anyhow!(
                        "GRPC_TLS_CERT_FILE / GRPC_TLS_KEY_FILE are not a usable certificate and key: {error}"
                    )
                })?;
        }
        // Only with a CA file: the system's roots are loaded when first
        // used, and an image without any must still start plain-text.
        if self.ca.is_some() {
            tonic::transport::Endpoint::from_static("https://candor.invalid")
                .tls_config(self.client_config())
                .map_err(|error| {
                    anyhow::anyhow!("GRPC_TLS_CA_FILE is not a usable CA certificate: {error}")
                })?;
        }
        Ok(())
    }
}

/// Makes ring rustls's process-wide provider. The dependency tree enables
/// both of rustls's providers (lapin and mailin bring aws-lc-rs), and rustls
/// then refuses to guess; tonic builds its configurations with the default.
pub fn install_crypto_provider() {
    // An error means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads a PEM file for `setting`, checking it holds at least one block of
/// the expected kind (`PRIVATE KEY` also matches `RSA PRIVATE KEY` and
/// `EC PRIVATE KEY`).
fn read_pem(path: &Path, setting: &str, kind: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{setting}: cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let has_block = text
        .lines()
        .any(|line| line.starts_with("-----BEGIN ") && line.contains(kind));
    if !has_block {
        anyhow::bail!("{setting}: {} holds no PEM {kind} block", path.display());
    }
    Ok(bytes)
}
