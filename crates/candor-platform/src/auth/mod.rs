//! Who is calling a gRPC service, and what they may call.
//!
//! Every caller has its own credential ([`Caller`]): operators present
//! `OPERATOR_TOKEN`, each service presents its own `SERVICE_TOKEN`, and a
//! service accepts the callers listed in its `CALLER_TOKENS` (or, with mutual
//! TLS, a client certificate naming the caller). [`permissions`] says which
//! callers may call each RPC; the gRPC server enforces it before the body is
//! decoded and puts the resolved [`Identity`] into the request's extensions,
//! so handlers never parse tokens themselves. Member session tokens are
//! resolved by the handlers through the account service, with one
//! [`SessionResolver`] ([`sessions`]) in every service that takes them.
//!
//! Metadata conventions:
//! - `authorization: Bearer <token>`: a caller's token, or a member's session.
//! - `x-caller-authorization: Bearer <token>`: a caller's token when
//!   `authorization` carries a member's session it forwards (a front end).
//! - `x-forwarded-for`: honoured only from `TRUSTED_PROXY_CALLERS`
//!   ([`forwarded`]).

mod caller;
mod credentials;
pub mod forwarded;
pub mod permissions;
pub mod sessions;

pub use caller::{Caller, UnknownCaller};
pub use credentials::{CallerTokens, Credentials, CredentialsError, check_token_strength};
pub use forwarded::ClientAddress;
pub use sessions::{Member, Principal, SessionCache, SessionError, SessionResolver};

use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Status};

use crate::grpc::{Reason, status_with_reason};

/// The metadata key a forwarding caller puts its own credential in.
pub const CALLER_AUTHORIZATION: &str = "x-caller-authorization";

/// Who a request comes from, as the gRPC server's permission layer resolved
/// it; in every admitted request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity {
    /// The caller whose credential (token or certificate) came with the call.
    pub caller: Option<Caller>,
    /// True when `authorization` carries a token that is no caller's: a
    /// member session for the handler to resolve (forwarded by `caller`, if
    /// any).
    pub member_session: bool,
    /// The row of the permission table the call was admitted by.
    pub permission: Option<&'static permissions::Permission>,
}

impl Identity {
    /// The identity of `request`; anonymous when the permission layer did
    /// not run (so nothing is granted by mistake).
    pub fn of<T>(request: &Request<T>) -> Self {
        request
            .extensions()
            .get::<Identity>()
            .copied()
            .unwrap_or_default()
    }

    /// The caller acting in its own right: a caller credential without a
    /// member session. `None` for members, forwarded or not.
    pub fn acting_caller(&self) -> Option<Caller> {
        if self.member_session {
            None
        } else {
            self.caller
        }
    }
}

/// The identity of a request the permission layer admitted, checked again
/// against its row (defence in depth for handlers of caller-only RPCs).
/// UNAUTHENTICATED when the layer did not admit it.
pub fn admitted<T>(request: &Request<T>) -> Result<Identity, Status> {
    let identity = request
        .extensions()
        .get::<Identity>()
        .copied()
        .ok_or_else(|| {
            status_with_reason(
                Code::Unauthenticated,
                "the call was not admitted by the permission layer",
                Reason::CREDENTIAL_MISSING,
            )
        })?;
    let permission = identity.permission.ok_or_else(|| {
        status_with_reason(
            Code::Unauthenticated,
            "no permission covers this call",
            Reason::CREDENTIAL_MISSING,
        )
    })?;
    permission.admit(identity.caller, identity.member_session)?;
    Ok(identity)
}

/// The token of an `authorization: Bearer <token>` header.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let header = metadata.get("authorization").ok_or_else(|| {
        status_with_reason(
            Code::Unauthenticated,
            "missing authorization metadata (Bearer token)",
            Reason::CREDENTIAL_MISSING,
        )
    })?;
    let text = header.to_str().map_err(|_| {
        status_with_reason(
            Code::Unauthenticated,
            "authorization metadata is not ASCII",
            Reason::CREDENTIAL_MALFORMED,
        )
    })?;
    parse_bearer(text).ok_or_else(|| {
        status_with_reason(
            Code::Unauthenticated,
            "authorization metadata must be `Bearer <token>`",
            Reason::CREDENTIAL_MALFORMED,
        )
    })
}

/// The token of a `Bearer <token>` value (scheme case-insensitive).
pub fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `Bearer <token>` as a metadata value.
pub fn bearer_value(token: &str) -> Result<MetadataValue<tonic::metadata::Ascii>, Status> {
    MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Status::internal("credential is not valid metadata"))
}

/// A client interceptor that sends a bearer token and the current trace
/// context with every call, so a call to another service joins the trace,
/// and passes on what is left of the deadline of the call being served
/// ([`crate::grpc::deadline`]). Candor's processes call each other through
/// [`candor_client`] ([`crate::grpc::outgoing`]); this stays for tests and
/// tools that hold a plain tonic channel.
#[derive(Clone)]
pub struct OutgoingInterceptor {
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl OutgoingInterceptor {
    /// Sends `token` as the bearer credential.
    pub fn with_token(token: &SecretString) -> Result<Self, Status> {
        Ok(Self {
            authorization: Some(bearer_value(token.expose_secret())?),
        })
    }

    /// Sends only the trace context (the caller adds its own credential).
    pub fn trace_only() -> Self {
        Self {
            authorization: None,
        }
    }
}

impl tonic::service::Interceptor for OutgoingInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(authorization) = &self.authorization
            && !request.metadata().contains_key("authorization")
        {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        crate::telemetry::inject_into_metadata(request.metadata_mut());
        let mut headers = std::mem::take(request.metadata_mut()).into_headers();
        let propagated = crate::grpc::deadline::propagate(&mut headers);
        *request.metadata_mut() = MetadataMap::from_headers(headers);
        propagated?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value.parse().unwrap());
        metadata
    }

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(
            bearer_token(&metadata("Bearer abc-def")).unwrap(),
            "abc-def"
        );
        assert_eq!(bearer_token(&metadata("bearer abc")).unwrap(), "abc");
        for value in ["Basic abc", "Bearer ", "abc"] {
            let status = bearer_token(&metadata(value)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{value}");
        }
        let status = bearer_token(&MetadataMap::new()).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn only_a_caller_without_a_member_session_acts_in_its_own_right() {
        let forwarded = Identity {
            caller: Some(Caller::FrontEnd),
            member_session: true,
            permission: None,
        };
        assert_eq!(forwarded.acting_caller(), None);
        let own = Identity {
            caller: Some(Caller::Operator),
            member_session: false,
            permission: None,
        };
        assert_eq!(own.acting_caller(), Some(Caller::Operator));
        assert_eq!(Identity::of(&Request::new(())), Identity::default());
        assert_eq!(
            admitted(&Request::new(())).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }
}
