//! A connection to one Candor service: where it is, who calls, how long a
//! call may take and when it is sent again. Generated clients run over it
//! (it is a `tower::Service`), so every call gets the same treatment.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::retry::RetryPolicy;

/// A function run on the headers of every call, after the credential and
/// the default deadline are set; an error stops the call with that status.
/// Candor's services pass one that adds the trace context and cuts the
/// deadline to what is left of the call they are serving.
pub type CallHook = Arc<dyn Fn(&mut http::HeaderMap) -> Result<(), tonic::Status> + Send + Sync>;

/// The default deadline of a call that sets none: long enough for any
/// unary Candor RPC under load, short enough that a stalled service is
/// noticed.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// How long making a connection may take before the call is UNAVAILABLE.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not an `http://` or `https://` URL.
    #[error("{url} is not a gRPC URL (http:// or https://)")]
    InvalidUrl {
        /// The URL given.
        url: String,
    },
    /// The token cannot be sent as a header (it is not visible ASCII).
    #[error("the bearer token is not valid header text")]
    InvalidToken,
    /// The TLS settings (CA, certificate or key) are not usable.
    #[error("TLS settings for {url}: {source}")]
    Tls {
        /// The URL given.
        url: String,
        /// What tonic said.
        #[source]
        source: tonic::transport::Error,
    },
}

/// Builds a [`Connection`]; see [`Connection::builder`].
#[must_use]
pub struct ConnectionBuilder {
    url: String,
    token: Option<SecretString>,
    ca_pem: Option<Vec<u8>>,
    identity_pem: Option<(Vec<u8>, Vec<u8>)>,
    tls_config: Option<ClientTlsConfig>,
    default_deadline: Option<Duration>,
    retry: RetryPolicy,
    hook: Option<CallHook>,
}

impl ConnectionBuilder {
    /// Sends `token` as `authorization: Bearer <token>` on every call (in
    /// `x-caller-authorization` when the call forwards a member's session,
    /// see [`crate::as_member`]).
    pub fn bearer_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Verifies an `https://` service against this CA (PEM) instead of the
    /// system's roots.
    pub fn tls_ca_pem(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(ca.into());
        self
    }

    /// Presents this certificate and key (PEM) to an `https://` service:
    /// mutual TLS, where the certificate names the caller.
    pub fn tls_identity_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.identity_pem = Some((cert.into(), key.into()));
        self
    }

    /// Uses `config` as it is for `https://` URLs (for a caller that has
    /// one already); [`ConnectionBuilder::tls_ca_pem`] and
    /// [`ConnectionBuilder::tls_identity_pem`] are then ignored.
    pub fn tls_config(mut self, config: ClientTlsConfig) -> Self {
        self.tls_config = Some(config);
        self
    }

    /// The deadline of calls that set none themselves
    /// (`Request::set_timeout`); `None` for none at all, for a long client
    /// stream. Default [`DEFAULT_DEADLINE`].
    pub fn default_deadline(mut self, deadline: impl Into<Option<Duration>>) -> Self {
        self.default_deadline = deadline.into();
        self
    }

    /// When idempotent calls are sent again (default
    /// [`RetryPolicy::default`]; [`RetryPolicy::NEVER`] turns retries off).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Runs `hook` on the headers of every call, after the credential and
    /// default deadline are set.
    pub fn on_each_call(
        mut self,
        hook: impl Fn(&mut http::HeaderMap) -> Result<(), tonic::Status> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The connection, made at the first call (so a caller may start
    /// before the service) and remade by itself after it breaks.
    pub fn connect_lazy(self) -> Result<Connection, ConnectError> {
        let invalid_url = || ConnectError::InvalidUrl {
            url: self.url.clone(),
        };
        let tls = if self.url.starts_with("https://") {
            true
        } else if self.url.starts_with("http://") {
            false
        } else {
            return Err(invalid_url());
        };
        let mut endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(|_| invalid_url())?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        if tls {
            install_crypto_provider();
            let config = self.tls_config.clone().unwrap_or_else(|| self.pem_config());
            endpoint = endpoint
                .tls_config(config)
                .map_err(|source| ConnectError::Tls {
                    url: self.url.clone(),
                    source,
                })?;
        }
        let authorization = match &self.token {
            Some(token) => {
                let mut value =
                    http::HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                        .map_err(|_| ConnectError::InvalidToken)?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Connection {
            channel: endpoint.connect_lazy(),
            settings: Arc::new(Settings {
                authorization,
                default_deadline: self.default_deadline,
                retry: self.retry,
                hook: self.hook,
            }),
        })
    }

    fn pem_config(&self) -> ClientTlsConfig {
        let config = match &self.ca_pem {
            Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        match &self.identity_pem {
            Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
            None => config,
        }
    }
}

/// rustls needs one process-wide crypto provider, and refuses to guess when
/// a program's dependencies enable two; this crate's TLS is ring's.
fn install_crypto_provider() {
    // An error means one is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What every call on a connection shares.
pub(crate) struct Settings {
    /// `Bearer <token>`, marked sensitive so it is never logged.
    pub(crate) authorization: Option<http::HeaderValue>,
    pub(crate) default_deadline: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) hook: Option<CallHook>,
}

/// A connection to one Candor service. Cheap to clone (clones share the
/// connection); the typed clients ([`Connection::account`], …) and any
/// tonic-generated client run over it.
#[derive(Clone)]
pub struct Connection {
    pub(crate) channel: Channel,
    pub(crate) settings: Arc<Settings>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Connection")
            .field("authenticated", &self.settings.authorization.is_some())
            .field("default_deadline", &self.settings.default_deadline)
            .field("retry", &self.settings.retry)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts a connection to the service at `url` (`http://host:port`, or
    /// `https://` for TLS, verified against the system's roots unless
    /// [`ConnectionBuilder::tls_ca_pem`] says otherwise), anonymous, with
    /// the default deadline and retry policy.
    pub fn builder(url: impl Into<String>) -> ConnectionBuilder {
        ConnectionBuilder {
            url: url.into(),
            token: None,
            ca_pem: None,
            identity_pem: None,
            tls_config: None,
            default_deadline: Some(DEFAULT_DEADLINE),
            retry: RetryPolicy::default(),
            hook: None,
        }
    }
}
