//! The sink's TLS: a certificate authority and a server certificate for
//! 127.0.0.1 made up at start, and the implicit-TLS front for smtps.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use mailin_embedded::SslConfig;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, pki_types::pem::PemObject};

use crate::tls::TestPki;

/// A CA and the server certificate it signed, on disk for mailin (the
/// files live as long as this value).
pub(super) struct TestCertificate {
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
    pki: TestPki,
}

impl TestCertificate {
    pub fn generate() -> anyhow::Result<Self> {
        let pki = TestPki::generate()?;
        Ok(Self {
            ca_pem: pki.ca_pem()?,
            cert_pem: pki.cert_pem()?,
            key_pem: pki.key_pem()?,
            pki,
        })
    }

    /// The CA certificate's file.
    pub fn ca_path(&self) -> &Path {
        &self.pki.ca
    }

    /// For mailin's STARTTLS (it reads files).
    pub fn ssl_config(&self) -> SslConfig {
        SslConfig::SelfSigned {
            cert_path: self.pki.cert.display().to_string(),
            key_path: self.pki.key.display().to_string(),
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
    candor_platform::grpc::install_crypto_provider();
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
