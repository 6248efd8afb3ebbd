//! The permission layer: identifies the caller of every request from its
//! headers and connection, before the body is read, and enforces the
//! permission table ([`crate::auth::permissions`]).
//!
//! The caller is, in this order: the caller whose token is in
//! `x-caller-authorization` (then `authorization` is a member's session
//! that caller forwards; an unknown token here is UNAUTHENTICATED at once);
//! the caller whose token is in `authorization`; with mutual TLS, the
//! caller the client certificate names. A bearer token in `authorization`
//! that is no caller's is a member session, left for the handler.
//!
//! Unknown credential: UNAUTHENTICATED. Known caller not in the RPC's row:
//! PERMISSION_DENIED naming the caller and the RPC. A method the table
//! does not know (health, reflection, or no such method) passes, and tonic
//! answers it. Admitted requests carry [`Identity`] and [`ClientAddress`]
//! in their extensions.

use std::net::IpAddr;

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tower::ServiceExt as _;

use super::error_kind::{Reason, status_with_reason};
use super::request_check::RequestCheck;
use crate::auth::forwarded::ProxyTrust;
use crate::auth::permissions::permission_of;
use crate::auth::{
    CALLER_AUTHORIZATION, Caller, ClientAddress, Credentials, Identity, parse_bearer,
};

/// What the layer knows: the accepted credentials and the trusted proxies.
#[derive(Debug, Clone)]
pub struct Guard {
    credentials: Credentials,
    proxies: ProxyTrust,
}

impl Guard {
    pub fn new(credentials: Credentials, proxies: ProxyTrust) -> Self {
        Self {
            credentials,
            proxies,
        }
    }

    /// Identifies the caller of `request` and decides it; an admitted
    /// request gets its [`Identity`] and [`ClientAddress`].
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), Status> {
        let headers = request.headers();
        let forwarded_by = match headers.get(CALLER_AUTHORIZATION) {
            None => None,
            Some(value) => {
                let token = value.to_str().ok().and_then(parse_bearer).ok_or_else(|| {
                    status_with_reason(
                        Code::Unauthenticated,
                        "x-caller-authorization must be `Bearer <token>`",
                        Reason::CREDENTIAL_MALFORMED,
                    )
                })?;
                Some(self.credentials.caller_of(token).ok_or_else(|| {
                    status_with_reason(
                        Code::Unauthenticated,
                        "unknown caller credential in x-caller-authorization",
                        Reason::CREDENTIAL_UNKNOWN,
                    )
                })?)
            }
        };
        let authorization = headers.get(http::header::AUTHORIZATION);
        let bearer_caller = match (forwarded_by, authorization) {
            (None, Some(value)) => value
                .to_str()
                .ok()
                .and_then(parse_bearer)
                .and_then(|token| self.credentials.caller_of(token)),
            _ => None,
        };
        let certificate_caller = if forwarded_by.is_none() && bearer_caller.is_none() {
            certificate_caller(request.extensions())
        } else {
            None
        };
        let caller = forwarded_by.or(bearer_caller).or(certificate_caller);
        let member_session = authorization.is_some() && bearer_caller.is_none();

        let permission = permission_of(request.uri().path());
        if let Some(permission) = permission {
            permission.admit(caller, member_session)?;
        }
        let peer = peer_address(request.extensions());
        let client = self.proxies.client_address(caller, peer, request.headers());
        let extensions = request.extensions_mut();
        extensions.insert(Identity {
            caller,
            member_session,
            permission,
        });
        if let Some(client) = client {
            extensions.insert(ClientAddress(client));
        }
        Ok(())
    }
}

/// The transport peer's address (plain or TLS connection).
fn peer_address(extensions: &http::Extensions) -> Option<IpAddr> {
    if let Some(info) = extensions.get::<TcpConnectInfo>() {
        return info.remote_addr().map(|addr| addr.ip());
    }
    extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.get_ref().remote_addr())
        .map(|addr| addr.ip())
}

/// The caller the verified client certificate names (mutual TLS): a DNS
/// subject alternative name or the common name equal to a caller's name.
/// A certificate naming several callers names none.
fn certificate_caller(extensions: &http::Extensions) -> Option<Caller> {
    let certificates = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    let leaf = certificates.first()?;
    let named = super::certificates::caller_names(leaf.as_ref());
    match named.as_slice() {
        [caller] => Some(*caller),
        [] => None,
        _ => {
            tracing::warn!(
                callers = ?named,
                "client certificate names several callers; it identifies none"
            );
            None
        }
    }
}

/// The guard runs before the rest of the stack ([`crate::grpc::GrpcServer`]
/// adds it as a [`super::request_check::CheckLayer`]).
impl RequestCheck for Guard {
    fn handle<S>(
        &self,
        mut request: http::Request<Body>,
        inner: S,
    ) -> BoxFuture<'static, Result<http::Response<Body>, S::Error>>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        match self.admit(&mut request) {
            Ok(()) => Box::pin(inner.oneshot(request)),
            Err(status) => {
                tracing::info!(
                    method = %request.uri().path(),
                    code = ?status.code(),
                    reason = status.message(),
                    "call refused"
                );
                Box::pin(futures::future::ready(Ok(status.into_http())))
            }
        }
    }
}
