//! The AccountService gRPC API. Each RPC group lives in its own module; this
//! file only routes calls and turns errors into statuses.

mod caller;
mod deactivation;
pub mod error;
mod import;
mod incidents;
mod login;
mod logout;
mod members;
mod reset;
mod revoke_all_sessions;

use std::sync::Arc;

use candor_platform::links::PublicLinks;
use candor_proto::account::v1::account_service_server::AccountService;
use candor_proto::account::v1::*;
use sqlx::PgPool;
use tonic::{Request, Response, Status, Streaming};

use crate::notifier::Notifier;
use crate::password::{PasswordHasher, PasswordPolicy};

/// Settings the RPCs use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_ttl_seconds: u32,
    pub login_failures_per_account: u32,
    pub login_failures_per_address: u32,
    pub requests_per_address_per_hour: u32,
    /// Where reset and deactivation emails link to.
    pub links: PublicLinks,
}

/// What every RPC shares.
#[derive(Debug)]
pub struct Shared {
    pub pool: PgPool,
    pub hasher: PasswordHasher,
    /// The rules for new passwords (length, common and breached passwords).
    pub password_policy: PasswordPolicy,
    pub notifier: Notifier,
    pub settings: Settings,
}

/// The service implementation.
#[derive(Debug, Clone)]
pub struct AccountApi {
    shared: Arc<Shared>,
}

impl AccountApi {
    pub fn new(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

fn respond<T>(result: Result<T, error::ApiError>) -> RpcResult<T> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn register(&self, request: Request<RegisterRequest>) -> RpcResult<RegisterResponse> {
        respond(members::register(&self.shared, request).await)
    }

    async fn login(&self, request: Request<LoginRequest>) -> RpcResult<LoginResponse> {
        respond(login::login(&self.shared, request).await)
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> RpcResult<ChangePasswordResponse> {
        respond(login::change_password(&self.shared, request).await)
    }

    async fn request_password_reset(
        &self,
        request: Request<RequestPasswordResetRequest>,
    ) -> RpcResult<RequestPasswordResetResponse> {
        respond(reset::request_password_reset(&self.shared, request).await)
    }

    async fn reset_password(
        &self,
        request: Request<ResetPasswordRequest>,
    ) -> RpcResult<ResetPasswordResponse> {
        respond(reset::reset_password(&self.shared, request).await)
    }

    async fn validate_session(
        &self,
        request: Request<ValidateSessionRequest>,
    ) -> RpcResult<ValidateSessionResponse> {
        respond(members::validate_session(&self.shared, request).await)
    }

    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> RpcResult<GetAccountResponse> {
        respond(members::get_account(&self.shared, request).await)
    }

    async fn set_roles(&self, request: Request<SetRolesRequest>) -> RpcResult<SetRolesResponse> {
        respond(members::set_roles(&self.shared, request).await)
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> RpcResult<LogoutResponse> {
        respond(logout::logout(&self.shared, request).await)
    }

    async fn revoke_all_sessions(
        &self,
        request: Request<RevokeAllSessionsRequest>,
    ) -> RpcResult<RevokeAllSessionsResponse> {
        respond(revoke_all_sessions::revoke_all_sessions(&self.shared, request).await)
    }

    async fn request_deactivation(
        &self,
        request: Request<RequestDeactivationRequest>,
    ) -> RpcResult<RequestDeactivationResponse> {
        respond(deactivation::request_deactivation(&self.shared, request).await)
    }

    async fn confirm_deactivation(
        &self,
        request: Request<ConfirmDeactivationRequest>,
    ) -> RpcResult<ConfirmDeactivationResponse> {
        respond(deactivation::confirm_deactivation(&self.shared, request).await)
    }

    async fn import_accounts(
        &self,
        request: Request<Streaming<ImportAccountsRequest>>,
    ) -> RpcResult<ImportAccountsResponse> {
        respond(import::import_accounts(&self.shared, request).await)
    }

    async fn count_affected_accounts(
        &self,
        request: Request<CountAffectedAccountsRequest>,
    ) -> RpcResult<CountAffectedAccountsResponse> {
        respond(incidents::count_affected_accounts(&self.shared, request).await)
    }

    async fn list_affected_accounts(
        &self,
        request: Request<ListAffectedAccountsRequest>,
    ) -> RpcResult<ListAffectedAccountsResponse> {
        respond(incidents::list_affected_accounts(&self.shared, request).await)
    }

    async fn get_incident_progress(
        &self,
        request: Request<GetIncidentProgressRequest>,
    ) -> RpcResult<GetIncidentProgressResponse> {
        respond(incidents::get_incident_progress(&self.shared, request).await)
    }
}
