//! Who is calling: a caller acting in its own right, as the server's
//! permission layer identified it (by the permission table, an operator),
//! or a member by a session token the account service vouches for.

use candor_platform::auth::{Identity, OutgoingInterceptor, bearer_token};
use candor_proto::account::v1::ValidateSessionRequest;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use uuid::Uuid;

/// The account service, called with this service's SERVICE_TOKEN.
pub type AccountClient = AccountServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A caller in its own right (the permission table admits operators
    /// only): any account.
    Staff,
    /// A member session: their own account only.
    Member(Uuid),
}

/// Authenticates members through the account service.
#[derive(Clone)]
pub struct Authenticator {
    accounts: AccountClient,
}

impl Authenticator {
    pub fn new(accounts: AccountClient) -> Self {
        Self { accounts }
    }

    /// The caller of `request`: a caller acting in its own right, or the
    /// member whose session is in `authorization`, resolved through the
    /// account service.
    pub async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        if Identity::of(request).acting_caller().is_some() {
            return Ok(Caller::Staff);
        }
        let token = bearer_token(request.metadata())?;
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
