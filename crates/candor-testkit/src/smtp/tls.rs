//! The sink's TLS: mailin's STARTTLS settings and the implicit-TLS front
//! for smtps, both with the sink's [`TestPki`] certificate.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use mailin_embedded::SslConfig;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, pki_types::pem::PemObject};

use crate::tls::TestPki;

/// For mailin's STARTTLS (it reads the certificate and key files).
pub(super) fn ssl_config(pki: &TestPki) -> SslConfig {
    SslConfig::SelfSigned {
        cert_path: pki.cert.display().to_string(),
        key_path: pki.key.display().to_string(),
    }
}

fn server_config(pki: &TestPki) -> anyhow::Result<rustls::ServerConfig> {
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&pki.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .context("reading the sink certificate")?;
    let key = PrivateKeyDer::from_pem_file(&pki.key).context("reading the sink key")?;
    Ok(rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?)
}

/// Accepts TLS connections on a new port and relays each, decrypted, to the
/// plain sink at `inner`. Returns the TLS port's address.
pub(super) fn serve_implicit(pki: &TestPki, inner: SocketAddr) -> anyhow::Result<SocketAddr> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(pki)?));
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
