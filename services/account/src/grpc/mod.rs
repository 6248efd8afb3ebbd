//! The AccountService gRPC API: this file only routes each RPC to its file
//! (named after it) and answers its error through the platform's error-kind
//! table. Caller-only RPCs are checked against the permission table again
//! here (`admitted`).

mod acknowledge_notice;
mod caller;
mod change_password;
mod confirm_deactivation;
mod count_affected_accounts;
mod get_account;
mod get_incident;
mod get_incident_progress;
mod import_accounts;
mod list_affected_accounts;
mod list_incidents;
mod list_notices;
mod login;
mod logout;
mod paging;
mod register;
mod request_deactivation;
mod request_password_reset;
mod reset_password;
mod revoke_all_sessions;
mod set_roles;
mod validate_session;

use std::sync::Arc;

use candor_platform::auth::admitted;
use candor_platform::grpc::respond;
use candor_platform::links::PublicLinks;
use candor_proto::account::v1::account_service_server::AccountService;
use candor_proto::account::v1::*;
use sqlx::PgPool;
use tonic::{Request, Response, Status, Streaming};

use crate::metrics::NoticeMetrics;
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
    /// Counts members acknowledging their security notices.
    pub notice_metrics: NoticeMetrics,
    pub settings: Settings,
}

impl Shared {
    /// A connection from the pool, for a read that needs no transaction.
    pub async fn connection(&self) -> anyhow::Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        use anyhow::Context as _;
        self.pool.acquire().await.context("acquiring a connection")
    }
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

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn register(&self, request: Request<RegisterRequest>) -> RpcResult<RegisterResponse> {
        respond(register::register(&self.shared, request).await)
    }

    async fn login(&self, request: Request<LoginRequest>) -> RpcResult<LoginResponse> {
        respond(login::login(&self.shared, request).await)
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> RpcResult<ChangePasswordResponse> {
        respond(change_password::change_password(&self.shared, request).await)
    }

    async fn request_password_reset(
        &self,
        request: Request<RequestPasswordResetRequest>,
    ) -> RpcResult<RequestPasswordResetResponse> {
        respond(request_password_reset::request_password_reset(&self.shared, request).await)
    }

    async fn reset_password(
        &self,
        request: Request<ResetPasswordRequest>,
    ) -> RpcResult<ResetPasswordResponse> {
        respond(reset_password::reset_password(&self.shared, request).await)
    }

    async fn validate_session(
        &self,
        request: Request<ValidateSessionRequest>,
    ) -> RpcResult<ValidateSessionResponse> {
        admitted(&request)?;
        respond(validate_session::validate_session(&self.shared, request).await)
    }

    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> RpcResult<GetAccountResponse> {
        respond(get_account::get_account(&self.shared, request).await)
    }

    async fn set_roles(&self, request: Request<SetRolesRequest>) -> RpcResult<SetRolesResponse> {
        admitted(&request)?;
        respond(set_roles::set_roles(&self.shared, request).await)
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
        respond(request_deactivation::request_deactivation(&self.shared, request).await)
    }

    async fn confirm_deactivation(
        &self,
        request: Request<ConfirmDeactivationRequest>,
    ) -> RpcResult<ConfirmDeactivationResponse> {
        respond(confirm_deactivation::confirm_deactivation(&self.shared, request).await)
    }

    async fn import_accounts(
        &self,
        request: Request<Streaming<ImportAccountsRequest>>,
    ) -> RpcResult<ImportAccountsResponse> {
        admitted(&request)?;
        respond(import_accounts::import_accounts(&self.shared, request).await)
    }

    async fn count_affected_accounts(
        &self,
        request: Request<CountAffectedAccountsRequest>,
    ) -> RpcResult<CountAffectedAccountsResponse> {
        admitted(&request)?;
        respond(count_affected_accounts::count_affected_accounts(&self.shared, request).await)
    }

    async fn get_incident(
        &self,
        request: Request<GetIncidentRequest>,
    ) -> RpcResult<GetIncidentResponse> {
        admitted(&request)?;
        respond(get_incident::get_incident(&self.shared, request).await)
    }

    async fn list_affected_accounts(
        &self,
        request: Request<ListAffectedAccountsRequest>,
    ) -> RpcResult<ListAffectedAccountsResponse> {
        admitted(&request)?;
        respond(list_affected_accounts::list_affected_accounts(&self.shared, request).await)
    }

    async fn get_incident_progress(
        &self,
        request: Request<GetIncidentProgressRequest>,
    ) -> RpcResult<GetIncidentProgressResponse> {
        admitted(&request)?;
        respond(get_incident_progress::get_incident_progress(&self.shared, request).await)
    }

    async fn list_incidents(
        &self,
        request: Request<ListIncidentsRequest>,
    ) -> RpcResult<ListIncidentsResponse> {
        admitted(&request)?;
        respond(list_incidents::list_incidents(&self.shared, request).await)
    }

    async fn list_notices(
        &self,
        request: Request<ListNoticesRequest>,
    ) -> RpcResult<ListNoticesResponse> {
        respond(list_notices::list_notices(&self.shared, request).await)
    }

    async fn acknowledge_notice(
        &self,
        request: Request<AcknowledgeNoticeRequest>,
    ) -> RpcResult<AcknowledgeNoticeResponse> {
        respond(acknowledge_notice::acknowledge_notice(&self.shared, request).await)
    }
}
