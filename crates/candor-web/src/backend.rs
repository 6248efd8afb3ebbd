//! The account and forum services as this front end calls them: over the
//! platform's channels (TLS settings from `GRPC_TLS_*`, trace context on
//! every call), always with the front end's own credential in
//! `x-caller-authorization`, the member's session (or password-change
//! token) in `authorization` when it acts for a member, and the client's
//! address appended to `x-forwarded-for` so the services' throttles count
//! the member, not the front end.

use std::sync::Arc;

use anyhow::Context as _;
use candor_platform::auth::{
    CALLER_AUTHORIZATION, Member, OutgoingInterceptor, SessionCache, SessionError, SessionResolver,
    bearer_value,
};
use candor_platform::grpc::GrpcTls;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use secrecy::SecretString;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::config::Config;
use crate::errors::PageError;

/// The account service's client.
pub type AccountClient = AccountServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;
/// The forum service's client.
pub type ForumClient = ForumServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

/// The services behind the pages.
#[derive(Clone)]
pub struct Backend {
    account: AccountClient,
    forum: ForumClient,
    caller: MetadataValue<Ascii>,
    sessions: Arc<SessionResolver>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Backend { .. }")
    }
}

impl Backend {
    /// Channels to `ACCOUNT_GRPC_URL` and `FORUM_GRPC_URL` (connected
    /// lazily, so the front end may start before the services).
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let tls = GrpcTls::load(&config.grpc_tls, false)?;
        let account_channel = tls
            .client_channel(&config.account_grpc_url)
            .context("ACCOUNT_GRPC_URL")?;
        let forum_channel = tls
            .client_channel(&config.forum_grpc_url)
            .context("FORUM_GRPC_URL")?;
        Self::with_channels(account_channel, forum_channel, &config.frontend_token)
    }

    fn with_channels(
        account: Channel,
        forum: Channel,
        frontend_token: &SecretString,
    ) -> anyhow::Result<Self> {
        let caller = bearer_value(secrecy::ExposeSecret::expose_secret(frontend_token))
            .map_err(|_| anyhow::anyhow!("FRONTEND_TOKEN is not valid metadata"))?;
        // No cache: a member who signs out or is deactivated is signed out
        // of the pages at once.
        let sessions = SessionResolver::new(account.clone(), frontend_token, SessionCache::OFF)?;
        Ok(Self {
            account: AccountServiceClient::with_interceptor(
                account,
                OutgoingInterceptor::trace_only(),
            ),
            forum: ForumServiceClient::with_interceptor(forum, OutgoingInterceptor::trace_only()),
            caller,
            sessions: Arc::new(sessions),
        })
    }

    /// The account service.
    pub fn account(&self) -> AccountClient {
        self.account.clone()
    }

    /// The forum service.
    pub fn forum(&self) -> ForumClient {
        self.forum.clone()
    }

    /// `message` as a call from this front end for the client at
    /// `forwarded_for`, acting for the holder of `member_token` (a session
    /// or a password-change token) when given.
    pub fn request<T>(
        &self,
        message: T,
        forwarded_for: &str,
        member_token: Option<&str>,
    ) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        metadata.insert(CALLER_AUTHORIZATION, self.caller.clone());
        if let Some(token) = member_token
            && let Ok(value) = bearer_value(token)
        {
            metadata.insert("authorization", value);
        }
        if !forwarded_for.is_empty()
            && let Ok(value) = MetadataValue::try_from(forwarded_for)
        {
            metadata.insert("x-forwarded-for", value);
        }
        request
    }

    /// The member whose session `token` is; `None` when it is unknown,
    /// expired or revoked.
    pub async fn member(&self, token: &str) -> Result<Option<Member>, PageError> {
        match self.sessions.member(token).await {
            Ok(member) => Ok(Some(member)),
            Err(SessionError::Unauthenticated(..)) => Ok(None),
            Err(SessionError::Unavailable(_)) => Err(PageError::Unavailable),
            Err(SessionError::Internal(error)) => Err(PageError::Internal(error)),
        }
    }
}
