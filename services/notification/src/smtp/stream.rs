//! Opening one SMTP connection: TCP with `TCP_NODELAY` and writes held
//! until the reply is read ([`Coalescing`]), then implicit TLS, greeting and
//! EHLO, STARTTLS and AUTH as `SMTP_URL` asks.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::Mechanism;
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};

use super::coalescing::Coalescing;
use super::settings::{SmtpSettings, TlsMode};

/// The TCP connection under everything else (TLS included).
type Tcp = Coalescing<TcpStream>;

/// Opens, greets and (as configured) secures and authenticates a connection.
/// Errors are text for the job's `last_error`; they are always transient
/// (the server may be back on the next attempt).
pub async fn open(
    settings: &SmtpSettings,
    hello: &ClientId,
    timeout: Duration,
) -> Result<AsyncSmtpConnection, String> {
    let within = |what: &'static str| move |_| format!("{what} timed out after {timeout:?}");
    let tcp = tokio::time::timeout(
        timeout,
        TcpStream::connect((settings.host.as_str(), settings.port)),
    )
    .await
    .map_err(within("connecting to the SMTP server"))?
    .map_err(|error| format!("cannot connect to the SMTP server: {error}"))?;
    tcp.set_nodelay(true)
        .map_err(|error| format!("cannot set TCP_NODELAY: {error}"))?;
    let tcp = Coalescing::new(tcp);
    let stream: Box<dyn AsyncTokioStream> = if settings.tls == TlsMode::Implicit {
        Box::new(implicit_tls(tcp, settings, timeout).await?)
    } else {
        Box::new(tcp)
    };
    let mut connection = tokio::time::timeout(
        timeout,
        AsyncSmtpConnection::connect_with_transport(stream, hello),
    )
    .await
    .map_err(within("the SMTP greeting"))?
    .map_err(|error| format!("SMTP greeting failed: {error}"))?;
    let starttls = match settings.tls {
        TlsMode::Required => true,
        TlsMode::Opportunistic => connection.can_starttls(),
        TlsMode::None | TlsMode::Implicit => false,
    };
    if starttls {
        let mut parameters = TlsParameters::builder(settings.host.clone());
        for root in &settings.extra_roots {
            let certificate = Certificate::from_der(root.to_vec())
                .map_err(|error| format!("SMTP_CA_FILE certificate: {error}"))?;
            parameters = parameters.add_root_certificate(certificate);
        }
        let parameters = parameters
            .build()
            .map_err(|error| format!("TLS parameters: {error}"))?;
        tokio::time::timeout(timeout, connection.starttls(parameters, hello))
            .await
            .map_err(within("STARTTLS"))?
            .map_err(|error| format!("STARTTLS failed: {error}"))?;
    }
    if let Some(credentials) = &settings.credentials {
        tokio::time::timeout(
            timeout,
            connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
        )
        .await
        .map_err(within("SMTP AUTH"))?
        .map_err(|error| format!("SMTP AUTH failed: {error}"))?;
    }
    Ok(connection)
}

async fn implicit_tls(
    tcp: Tcp,
    settings: &SmtpSettings,
    timeout: Duration,
) -> Result<ImplicitTls, String> {
    let host = settings.host.as_str();
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in &settings.extra_roots {
        roots
            .add(root.clone())
            .map_err(|error| format!("SMTP_CA_FILE certificate: {error}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| format!("TLS configuration: {error}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| format!("SMTP host {host:?} is not a valid TLS server name"))?;
    let peer = tcp
        .get_ref()
        .peer_addr()
        .map_err(|error| format!("reading the SMTP peer address: {error}"))?;
    let stream = tokio::time::timeout(
        timeout,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| format!("TLS handshake timed out after {timeout:?}"))?
    .map_err(|error| format!("TLS handshake failed: {error}"))?;
    Ok(ImplicitTls { stream, peer })
}

/// A TLS stream lettre can drive (it needs `peer_addr` besides I/O).
#[derive(Debug)]
struct ImplicitTls {
    stream: TlsStream<Tcp>,
    peer: SocketAddr,
}

impl AsyncTokioStream for Tcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().peer_addr()
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}
