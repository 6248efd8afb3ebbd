//! Bearer-token authentication for operator and service-to-service RPCs.
//!
//! Callers send `authorization: Bearer <token>` metadata. Operator and
//! service tokens come from configuration and are compared in constant time;
//! member session tokens are checked by the service that owns sessions (the
//! account service), so this module only extracts them.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Request, Status};

use crate::config::AuthConfig;

/// Who a configured credential belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A human operator (`OPERATOR_TOKEN`).
    Operator,
    /// Another Candor service (`SERVICE_TOKEN`).
    Service,
}

/// The configured operator and service tokens.
#[derive(Clone)]
pub struct Credentials {
    operator_token: SecretString,
    service_token: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Credentials { .. }")
    }
}

impl Credentials {
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            operator_token: config.operator_token.clone(),
            service_token: config.service_token.clone(),
        }
    }

    /// The configured principal `token` belongs to, if any. Both comparisons
    /// always run so timing does not tell which one matched.
    pub fn principal_of(&self, token: &str) -> Option<Principal> {
        let token = token.as_bytes();
        let is_operator = self.operator_token.expose_secret().as_bytes().ct_eq(token);
        let is_service = self.service_token.expose_secret().as_bytes().ct_eq(token);
        if bool::from(is_operator) {
            Some(Principal::Operator)
        } else if bool::from(is_service) {
            Some(Principal::Service)
        } else {
            None
        }
    }

    /// Admits the request when its bearer token is one of `allowed`.
    ///
    /// `UNAUTHENTICATED` when the token is missing, malformed or unknown;
    /// `PERMISSION_DENIED` when it is a known credential that `allowed` does
    /// not include (a service token on an operator-only RPC).
    pub fn require(
        &self,
        metadata: &MetadataMap,
        allowed: &[Principal],
    ) -> Result<Principal, Status> {
        let token = bearer_token(metadata)?;
        match self.principal_of(token) {
            Some(principal) if allowed.contains(&principal) => Ok(principal),
            Some(principal) => Err(Status::permission_denied(format!(
                "this RPC is not open to the {} credential",
                match principal {
                    Principal::Operator => "operator",
                    Principal::Service => "service",
                }
            ))),
            None => Err(Status::unauthenticated("unknown bearer token")),
        }
    }

    /// The service credential as request metadata, for calls to other services.
    pub fn service_authorization(&self) -> Result<MetadataValue<tonic::metadata::Ascii>, Status> {
        bearer_value(self.service_token.expose_secret())
    }
}

/// The token of an `authorization: Bearer <token>` header.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let header = metadata
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("missing authorization metadata (Bearer token)"))?;
    let text = header
        .to_str()
        .map_err(|_| Status::unauthenticated("authorization metadata is not ASCII"))?;
    let (scheme, token) = text.split_once(' ').ok_or_else(|| {
        Status::unauthenticated("authorization metadata must be `Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Status::unauthenticated(
            "authorization metadata must be `Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

/// `Bearer <token>` as a metadata value.
pub fn bearer_value(token: &str) -> Result<MetadataValue<tonic::metadata::Ascii>, Status> {
    MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Status::internal("credential is not valid metadata"))
}

/// A client interceptor that sends a bearer token and the current trace
/// context with every call, so a call to another service joins the trace.
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
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::new(&AuthConfig::new(
            "operator-token-0123456789",
            "service-token-0123456789",
        ))
    }

    fn metadata(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value.parse().unwrap());
        metadata
    }

    #[test]
    fn operator_token_is_admitted_where_allowed() {
        let principal = credentials()
            .require(
                &metadata("Bearer operator-token-0123456789"),
                &[Principal::Operator],
            )
            .unwrap();
        assert_eq!(principal, Principal::Operator);
    }

    #[test]
    fn service_token_on_operator_rpc_is_permission_denied() {
        let status = credentials()
            .require(
                &metadata("Bearer service-token-0123456789"),
                &[Principal::Operator],
            )
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn unknown_missing_or_malformed_tokens_are_unauthenticated() {
        let credentials = credentials();
        let allowed = [Principal::Operator, Principal::Service];
        for value in [
            "Bearer nope-nope-nope-nope",
            "Basic abc",
            "Bearer ",
            "operator-token-0123456789",
        ] {
            let status = credentials.require(&metadata(value), &allowed).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{value}");
        }
        let status = credentials
            .require(&MetadataMap::new(), &allowed)
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn a_prefix_of_a_token_is_not_the_token() {
        assert_eq!(credentials().principal_of("operator-token-012345678"), None);
    }
}
