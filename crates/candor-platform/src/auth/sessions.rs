//! Who is calling a member RPC: a caller acting in its own right as the
//! permission layer identified it, or a member whose session token the
//! account service vouches for (`ValidateSession`). One resolver for every
//! service that takes member sessions, with an optional short cache so a
//! busy service does not ask the account service on every call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use candor_proto::account::v1::{Role, ValidateSessionRequest, ValidateSessionResponse};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Caller, Identity, bearer_token};
use crate::grpc::{ErrorKind, Reason, RpcError};
use crate::sync::lock;

/// The account service, called with the service's own SERVICE_TOKEN.
pub type AccountClient = candor_client::AccountClient;

/// A member whose session the account service vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's account.
    pub account_id: Uuid,
    /// The display name at validation time.
    pub display_name: String,
    /// True when the account has the staff role.
    pub staff: bool,
}

/// Who is calling a member RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A caller in its own right (the permission table admits operators,
    /// for example), without a member session.
    Acting(Caller),
    /// A member, by their session token.
    Member(Member),
}

/// Why no caller could be established.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No token, a malformed one, or one the account service does not know
    /// (unknown, expired or revoked).
    #[error("{0}")]
    Unauthenticated(String, Reason),
    /// The account service cannot answer now.
    #[error("the account service cannot validate the session now; retry with backoff")]
    Unavailable(#[source] tonic::Status),
    /// The account service answered something it should not have.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl RpcError for SessionError {
    fn kind(&self) -> ErrorKind {
        match self {
            SessionError::Unauthenticated(..) => ErrorKind::Unauthenticated,
            SessionError::Unavailable(_) => ErrorKind::Unavailable,
            SessionError::Internal(_) => ErrorKind::Internal,
        }
    }

    fn reason(&self) -> Reason {
        match self {
            SessionError::Unauthenticated(_, reason) => *reason,
            SessionError::Unavailable(_) => Reason::DEPENDENCY_UNAVAILABLE,
            SessionError::Internal(_) => Reason::INTERNAL_ERROR,
        }
    }
}

/// How long validated sessions are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCache {
    /// How long an answer is reused (never past the session's expiry); zero
    /// turns the cache off.
    pub ttl: Duration,
    /// Most sessions held at once (at least 1).
    pub capacity: usize,
}

impl SessionCache {
    /// No caching: every call asks the account service.
    pub const OFF: SessionCache = SessionCache {
        ttl: Duration::ZERO,
        capacity: 1,
    };
}

struct CachedSession {
    member: Member,
    valid_until: Instant,
}

/// Resolves bearer tokens to members through the account service.
pub struct SessionResolver {
    client: AccountClient,
    settings: SessionCache,
    cache: Mutex<HashMap<[u8; 32], CachedSession>>,
}

impl std::fmt::Debug for SessionResolver {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SessionResolver")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SessionResolver {
    /// A resolver asking the account service over `account` (a
    /// connection carrying the caller's own credential, see
    /// [`crate::grpc::GrpcTls::service_connection`]), remembering answers
    /// as `cache` says. ValidateSession has no side effects, so the
    /// connection retries it when the account service is UNAVAILABLE.
    pub fn new(account: candor_client::Connection, cache: SessionCache) -> Self {
        Self {
            client: account.account(),
            settings: SessionCache {
                ttl: cache.ttl,
                capacity: cache.capacity.max(1),
            },
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The caller of `request`: a caller acting in its own right, or the
    /// member whose session token is in `authorization`.
    pub async fn resolve<T>(&self, request: &tonic::Request<T>) -> Result<Principal, SessionError> {
        if let Some(caller) = Identity::of(request).acting_caller() {
            return Ok(Principal::Acting(caller));
        }
        let token = bearer_token(request.metadata()).map_err(|status| {
            let reason = crate::grpc::Refused(status.clone()).reason();
            SessionError::Unauthenticated(status.message().to_owned(), reason)
        })?;
        self.member(token).await.map(Principal::Member)
    }

    /// The member whose session `token` is: from the cache while fresh,
    /// otherwise from the account service.
    pub async fn member(&self, token: &str) -> Result<Member, SessionError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(member) = self.cached(&key) {
            return Ok(member);
        }
        let response = self.validate(token).await?;
        let (member, expires_at) = member_of(response)?;
        self.remember(key, member.clone(), expires_at);
        Ok(member)
    }

    /// Drops cached sessions of a deactivated account (other replicas'
    /// caches expire within the TTL).
    pub fn forget_account(&self, account_id: Uuid) {
        let mut cache = lock(&self.cache);
        cache.retain(|_, entry| entry.member.account_id != account_id);
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Member> {
        let cache = lock(&self.cache);
        let entry = cache.get(key)?;
        (entry.valid_until > Instant::now()).then(|| entry.member.clone())
    }

    fn remember(&self, key: [u8; 32], member: Member, expires_at: Option<SystemTime>) {
        let mut ttl = self.settings.ttl;
        if let Some(expires_at) = expires_at {
            let left = expires_at
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            ttl = ttl.min(left);
        }
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut cache = lock(&self.cache);
        if cache.len() >= self.settings.capacity {
            cache.retain(|_, entry| entry.valid_until > now);
        }
        if cache.len() >= self.settings.capacity {
            // Still full of live entries: drop the one closest to expiry.
            let oldest = cache
                .iter()
                .min_by_key(|(_, entry)| entry.valid_until)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(
            key,
            CachedSession {
                member,
                valid_until: now + ttl,
            },
        );
    }

    #[tracing::instrument(skip_all)]
    async fn validate(&self, token: &str) -> Result<ValidateSessionResponse, SessionError> {
        let mut client = self.client.clone();
        let request = ValidateSessionRequest {
            session_token: token.to_owned(),
        };
        match client.validate_session(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => match status.code() {
                tonic::Code::NotFound | tonic::Code::InvalidArgument => {
                    Err(SessionError::Unauthenticated(
                        "unknown, expired or revoked session".to_owned(),
                        Reason::SESSION_INVALID,
                    ))
                }
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                    tracing::warn!(code = ?status.code(), "account service unavailable");
                    Err(SessionError::Unavailable(status))
                }
                _ => Err(SessionError::Internal(anyhow::anyhow!(
                    "ValidateSession failed: {:?} {}",
                    status.code(),
                    status.message()
                ))),
            },
        }
    }
}

fn member_of(
    response: ValidateSessionResponse,
) -> Result<(Member, Option<SystemTime>), SessionError> {
    let account_id = Uuid::parse_str(&response.account_id)
        .map_err(|error| anyhow::anyhow!("ValidateSession returned a bad account id: {error}"))?;
    let staff = response.roles.contains(&(Role::Staff as i32));
    let expires_at = response
        .expires_at
        .and_then(|timestamp| SystemTime::try_from(timestamp).ok());
    let member = Member {
        account_id,
        display_name: response.display_name,
        staff,
    };
    Ok((member, expires_at))
}
