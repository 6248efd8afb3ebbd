//! Who is calling: a caller acting in its own right as the server's
//! permission layer identified it (by the permission table, an operator;
//! acting as the staff system account), or a member whose session the account service vouches
//! for. Answers of `ValidateSession` are cached briefly so posting does not
//! cost a round trip to the account service each time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use candor_platform::auth::{Identity, OutgoingInterceptor, bearer_token};
use candor_platform::sync::lock;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::account::v1::{Role, ValidateSessionRequest, ValidateSessionResponse};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;

/// The fixed account id of the staff system account (seeded by the
/// migrations).
pub const SYSTEM_ACCOUNT_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);

/// The authenticated caller of a member RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: Uuid,
    pub display_name: String,
    pub kind: CallerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    Member,
    Staff,
    /// A caller in its own right (an operator): the staff system account.
    System,
}

impl Caller {
    pub fn is_staff(&self) -> bool {
        matches!(self.kind, CallerKind::Staff | CallerKind::System)
    }

    pub fn system() -> Self {
        Self {
            account_id: SYSTEM_ACCOUNT_ID,
            display_name: "Candor staff".to_owned(),
            kind: CallerKind::System,
        }
    }
}

/// Why a caller could not be established.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("this RPC needs a staff session")]
    NotStaff,
    #[error("the account service is unavailable")]
    Unavailable(#[source] tonic::Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

type AccountClient = AccountServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

struct CachedSession {
    caller: Caller,
    valid_until: Instant,
}

/// Resolves bearer tokens to callers.
pub struct Sessions {
    client: AccountClient,
    ttl: Duration,
    capacity: usize,
    cache: Mutex<HashMap<[u8; 32], CachedSession>>,
}

impl Sessions {
    pub fn new(
        account_channel: Channel,
        service_token: &SecretString,
        ttl: Duration,
        capacity: usize,
    ) -> anyhow::Result<Self> {
        let interceptor = OutgoingInterceptor::with_token(service_token)
            .map_err(|status| anyhow::anyhow!("SERVICE_TOKEN: {}", status.message()))?;
        Ok(Self {
            client: AccountServiceClient::with_interceptor(account_channel, interceptor),
            ttl,
            capacity: capacity.max(1),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The caller of a member RPC: UNAUTHENTICATED without a valid token.
    pub async fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Caller, AuthError> {
        if Identity::of(request).acting_caller().is_some() {
            return Ok(Caller::system());
        }
        let token = bearer_token(request.metadata())
            .map_err(|status| AuthError::Unauthenticated(status.message().to_owned()))?;
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(caller) = self.cached(&key) {
            return Ok(caller);
        }
        let response = self.validate(token).await?;
        let (caller, expires_at) = caller_of(response)?;
        self.remember(key, caller.clone(), expires_at);
        Ok(caller)
    }

    /// The caller of a staff RPC: PERMISSION_DENIED for a member.
    pub async fn staff<T>(&self, request: &tonic::Request<T>) -> Result<Caller, AuthError> {
        let caller = self.caller(request).await?;
        if caller.is_staff() {
            Ok(caller)
        } else {
            Err(AuthError::NotStaff)
        }
    }

    /// Drops cached sessions of a deactivated account (other replicas' caches
    /// expire within the TTL; posting also checks the author table).
    pub fn forget_account(&self, account_id: Uuid) {
        let mut cache = lock(&self.cache);
        cache.retain(|_, entry| entry.caller.account_id != account_id);
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Caller> {
        let cache = lock(&self.cache);
        let entry = cache.get(key)?;
        (entry.valid_until > Instant::now()).then(|| entry.caller.clone())
    }

    fn remember(&self, key: [u8; 32], caller: Caller, expires_at: Option<SystemTime>) {
        let mut ttl = self.ttl;
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
        if cache.len() >= self.capacity {
            cache.retain(|_, entry| entry.valid_until > now);
        }
        if cache.len() >= self.capacity {
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
                caller,
                valid_until: now + ttl,
            },
        );
    }

    #[tracing::instrument(skip_all)]
    async fn validate(&self, token: &str) -> Result<ValidateSessionResponse, AuthError> {
        let mut client = self.client.clone();
        let request = ValidateSessionRequest {
            session_token: token.to_owned(),
        };
        match client.validate_session(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => match status.code() {
                tonic::Code::NotFound | tonic::Code::InvalidArgument => Err(
                    AuthError::Unauthenticated("unknown, expired or revoked session".to_owned()),
                ),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                    tracing::warn!(code = ?status.code(), "account service unavailable");
                    Err(AuthError::Unavailable(status))
                }
                _ => Err(AuthError::Internal(anyhow::anyhow!(
                    "ValidateSession failed: {:?} {}",
                    status.code(),
                    status.message()
                ))),
            },
        }
    }
}

fn caller_of(response: ValidateSessionResponse) -> Result<(Caller, Option<SystemTime>), AuthError> {
    let account_id = Uuid::parse_str(&response.account_id)
        .map_err(|error| anyhow::anyhow!("ValidateSession returned a bad account id: {error}"))?;
    let staff = response.roles.contains(&(Role::Staff as i32));
    let expires_at = response
        .expires_at
        .and_then(|timestamp| SystemTime::try_from(timestamp).ok());
    let caller = Caller {
        account_id,
        display_name: response.display_name,
        kind: if staff {
            CallerKind::Staff
        } else {
            CallerKind::Member
        },
    };
    Ok((caller, expires_at))
}
