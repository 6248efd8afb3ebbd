//! The sink's TLS: a certificate authority and a server certificate for
//! 127.0.0.1 made up at start, and the implicit-TLS front for smtps.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use mailin_embedded::SslConfig;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, pki_types::pem::PemObject};

/// A CA and the server certificate it signed, on disk for mailin.
pub(super) struct TestCertificate {
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl TestCertificate {
    pub fn generate() -> anyhow::Result<Self> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "candor-testkit SMTP sink CA");
        let ca = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "candor-testkit SMTP sink");
        let cert = params.signed_by(&key, &issuer)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        Ok(Self {
            ca_pem: ca.pem(),
            cert_path: write_temp("sink-cert.pem", &cert_pem)?,
            key_path: write_temp("sink-key.pem", &key_pem)?,
            cert_pem,
            key_pem,
        })
    }

    /// For mailin's STARTTLS (it reads files).
    pub fn ssl_config(&self) -> SslConfig {
        SslConfig::SelfSigned {
            cert_path: self.cert_path.display().to_string(),
            key_path: self.key_path.display().to_string(),
        }
    }

    fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("reading the sink certificate")?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .context("reading the sink key")?;
        Ok(rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?)
    }
}

/// mailin builds its rustls config with the process-wide crypto provider;
/// with both ring and aws-lc-rs linked there is none until one is chosen.
pub(super) fn install_crypto_provider() {
    // Err only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Writes `contents` to a new file under the temporary directory.
pub(super) fn write_temp(name: &str, contents: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!(
        "candor-testkit-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Accepts TLS connections on a new port and relays each, decrypted, to the
/// plain sink at `inner`. Returns the TLS port's address.
pub(super) fn serve_implicit(
    certificate: &TestCertificate,
    inner: SocketAddr,
) -> anyhow::Result<SocketAddr> {
    let acceptor = TlsAcceptor::from(Arc::new(certificate.server_config()?));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("smtp-sink-tls".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((client, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let _ = client.set_nodelay(true);
                        let Ok(mut client) = acceptor.accept(client).await else {
                            return;
                        };
                        let Ok(mut server) = tokio::net::TcpStream::connect(inner).await else {
                            return;
                        };
                        let _ = server.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                }
            });
        })?;
    Ok(addr)
}
