//! The account and forum services as this front end calls them: through
//! [`candor_client`] connections (TLS settings from `GRPC_TLS_*`, trace
//! context on every call), always with the front end's own credential, in
//! `x-caller-authorization` when it acts for a member whose session (or
//! password-change token) goes in `authorization`, and the client's address
//! appended to `x-forwarded-for` so the services' throttles count the
//! member, not the front end.

use std::sync::Arc;

use candor_platform::auth::{Member, SessionCache, SessionError, SessionResolver};
use candor_platform::grpc::GrpcTls;
use tonic::metadata::MetadataValue;

use crate::config::Config;
use crate::errors::PageError;

/// The account service's client.
pub type AccountClient = candor_client::AccountClient;
/// The forum service's client.
pub type ForumClient = candor_client::ForumClient;

/// The services behind the pages.
#[derive(Clone)]
pub struct Backend {
    account: AccountClient,
    forum: ForumClient,
    sessions: Arc<SessionResolver>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Backend { .. }")
    }
}

impl Backend {
    /// Connections to `ACCOUNT_GRPC_URL` and `FORUM_GRPC_URL` (made lazily,
    /// so the front end may start before the services).
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let tls = GrpcTls::load(&config.grpc_tls, false)?;
        let account = tls.service_connection(
            &config.account_grpc_url,
            &config.frontend_token,
            "ACCOUNT_GRPC_URL",
        )?;
        let forum = tls.service_connection(
            &config.forum_grpc_url,
            &config.frontend_token,
            "FORUM_GRPC_URL",
        )?;
        Ok(Self {
            // No cache: a member who signs out or is deactivated is signed
            // out of the pages at once.
            sessions: Arc::new(SessionResolver::new(account.clone(), SessionCache::OFF)),
            account: account.account(),
            forum: forum.forum(),
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
    /// or a password-change token) when given; a token that cannot be sent
    /// is left out, and the service answers as for no session.
    pub fn request<T>(
        &self,
        message: T,
        forwarded_for: &str,
        member_token: Option<&str>,
    ) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = member_token {
            let _unsendable = candor_client::as_member(&mut request, token);
        }
        if !forwarded_for.is_empty()
            && let Ok(value) = MetadataValue::try_from(forwarded_for)
        {
            request.metadata_mut().insert("x-forwarded-for", value);
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
