//! Who is calling: an operator or service by its configured token, or a
//! member by a session token the account service vouches for.

use candor_platform::auth::{Credentials, OutgoingInterceptor, bearer_token};
use candor_proto::account::v1::ValidateSessionRequest;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use tonic::metadata::MetadataMap;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

/// The account service, called with this service's SERVICE_TOKEN.
pub type AccountClient = AccountServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// OPERATOR_TOKEN or SERVICE_TOKEN: any account.
    Staff,
    /// A member session: their own account only.
    Member(Uuid),
}

/// Authenticates callers of this service.
#[derive(Clone)]
pub struct Authenticator {
    credentials: Credentials,
    accounts: AccountClient,
}

impl Authenticator {
    pub fn new(credentials: Credentials, accounts: AccountClient) -> Self {
        Self {
            credentials,
            accounts,
        }
    }

    /// Operators and services only: a member session is PERMISSION_DENIED,
    /// anything else UNAUTHENTICATED.
    pub async fn require_staff(&self, metadata: &MetadataMap) -> Result<(), Status> {
        match self.caller(metadata).await? {
            Caller::Staff => Ok(()),
            Caller::Member(_) => Err(Status::permission_denied(
                "this RPC takes the operator or service credential, not a member session",
            )),
        }
    }

    /// Any caller; a token that is neither configured credential is taken
    /// as a member session and resolved through the account service.
    pub async fn caller(&self, metadata: &MetadataMap) -> Result<Caller, Status> {
        let token = bearer_token(metadata)?;
        if self.credentials.principal_of(token).is_some() {
            return Ok(Caller::Staff);
        }
        let request = ValidateSessionRequest {
            session_token: token.to_owned(),
        };
        match self.accounts.clone().validate_session(request).await {
            Ok(response) => {
                let account_id =
                    Uuid::parse_str(&response.into_inner().account_id).map_err(|_| {
                        Status::unavailable("the account service answered a malformed account id")
                    })?;
                Ok(Caller::Member(account_id))
            }
            Err(status) => Err(match status.code() {
                Code::NotFound | Code::InvalidArgument => {
                    Status::unauthenticated("unknown, expired or revoked session token")
                }
                Code::Unavailable | Code::DeadlineExceeded => {
                    Status::unavailable("the account service cannot validate the session now")
                }
                code => {
                    tracing::error!(
                        ?code,
                        message = status.message(),
                        "session validation failed"
                    );
                    Status::unavailable("the account service cannot validate the session now")
                }
            }),
        }
    }
}
