//! A stand-in for the account service: answers `ValidateSession` from a
//! table of session tokens the test controls and UNIMPLEMENTED for every
//! other RPC. The real account service is exercised by the end-to-end suite.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_platform::auth::Caller;
use candor_platform::grpc::GrpcServer;
use candor_proto::account::v1::account_service_server::{AccountService, AccountServiceServer};
use candor_proto::account::v1::*;
use candor_testkit::environment::caller_token;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// A session the double vouches for.
#[derive(Debug, Clone)]
pub struct Member {
    pub token: String,
    pub account_id: Uuid,
}

#[derive(Default)]
struct Table {
    sessions: Mutex<HashMap<String, ValidateSessionResponse>>,
    validations: AtomicUsize,
}

/// The running double; stops when dropped.
pub struct AccountDouble {
    table: Arc<Table>,
    pub url: String,
    stop: CancellationToken,
}

impl Drop for AccountDouble {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl AccountDouble {
    pub async fn start() -> Self {
        let table = Arc::new(Table::default());
        let listener = candor_platform::grpc::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let guard = candor_testkit::environment::test_guard().unwrap();
        let server = GrpcServer::new(guard, candor_platform::grpc::Limits::default())
            .unwrap()
            .add_service(AccountServiceServer::new(Service(table.clone())));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            server
                .serve(listener, stopped.cancelled_owned(), Duration::from_secs(1))
                .await
        });
        Self { table, url, stop }
    }

    /// A new member session (no roles).
    pub fn member(&self, display_name: &str) -> Member {
        self.session(display_name, vec![])
    }

    /// A new staff session.
    pub fn staff(&self, display_name: &str) -> Member {
        self.session(display_name, vec![Role::Staff as i32])
    }

    fn session(&self, display_name: &str, roles: Vec<i32>) -> Member {
        let member = Member {
            token: format!("session-{}", Uuid::new_v4().simple()),
            account_id: Uuid::new_v4(),
        };
        let expires_at = std::time::SystemTime::now() + Duration::from_secs(3600);
        self.table.sessions.lock().unwrap().insert(
            member.token.clone(),
            ValidateSessionResponse {
                account_id: member.account_id.to_string(),
                display_name: display_name.to_owned(),
                roles,
                expires_at: Some(expires_at.into()),
            },
        );
        member
    }

    /// Ends a session, as Logout or RevokeAllSessions does in the account
    /// service: ValidateSession answers NOT_FOUND for it from now on.
    pub fn revoke(&self, member: &Member) {
        self.table.sessions.lock().unwrap().remove(&member.token);
    }

    /// How many ValidateSession calls reached the double.
    pub fn validations(&self) -> usize {
        self.table.validations.load(Ordering::SeqCst)
    }
}

struct Service(Arc<Table>);

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented(
        "not part of the account service double",
    ))
}

#[tonic::async_trait]
impl AccountService for Service {
    async fn validate_session(
        &self,
        request: Request<ValidateSessionRequest>,
    ) -> Result<Response<ValidateSessionResponse>, Status> {
        let presented = candor_platform::auth::bearer_token(request.metadata())?;
        if presented != caller_token(Caller::Forum) {
            return Err(Status::unauthenticated(
                "ValidateSession needs the forum's SERVICE_TOKEN",
            ));
        }
        self.0.validations.fetch_add(1, Ordering::SeqCst);
        let token = &request.get_ref().session_token;
        if token.is_empty() {
            return Err(Status::invalid_argument("session_token: required"));
        }
        let sessions = self.0.sessions.lock().unwrap();
        match sessions.get(token) {
            Some(response) => Ok(Response::new(response.clone())),
            None => Err(Status::not_found("unknown, expired or revoked session")),
        }
    }

    async fn register(
        &self,
        _: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        unimplemented()
    }
    async fn login(&self, _: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        unimplemented()
    }
    async fn list_notices(
        &self,
        _: Request<ListNoticesRequest>,
    ) -> Result<Response<ListNoticesResponse>, Status> {
        unimplemented()
    }
    async fn acknowledge_notice(
        &self,
        _: Request<AcknowledgeNoticeRequest>,
    ) -> Result<Response<AcknowledgeNoticeResponse>, Status> {
        unimplemented()
    }
    async fn change_password(
        &self,
        _: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        unimplemented()
    }
    async fn request_password_reset(
        &self,
        _: Request<RequestPasswordResetRequest>,
    ) -> Result<Response<RequestPasswordResetResponse>, Status> {
        unimplemented()
    }
    async fn reset_password(
        &self,
        _: Request<ResetPasswordRequest>,
    ) -> Result<Response<ResetPasswordResponse>, Status> {
        unimplemented()
    }
    async fn get_account(
        &self,
        _: Request<GetAccountRequest>,
    ) -> Result<Response<GetAccountResponse>, Status> {
        unimplemented()
    }
    async fn set_roles(
        &self,
        _: Request<SetRolesRequest>,
    ) -> Result<Response<SetRolesResponse>, Status> {
        unimplemented()
    }
    async fn logout(&self, _: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        unimplemented()
    }

    async fn revoke_all_sessions(
        &self,
        _: Request<RevokeAllSessionsRequest>,
    ) -> Result<Response<RevokeAllSessionsResponse>, Status> {
        unimplemented()
    }

    async fn request_deactivation(
        &self,
        _: Request<RequestDeactivationRequest>,
    ) -> Result<Response<RequestDeactivationResponse>, Status> {
        unimplemented()
    }
    async fn confirm_deactivation(
        &self,
        _: Request<ConfirmDeactivationRequest>,
    ) -> Result<Response<ConfirmDeactivationResponse>, Status> {
        unimplemented()
    }
    async fn import_accounts(
        &self,
        _: Request<tonic::Streaming<ImportAccountsRequest>>,
    ) -> Result<Response<ImportAccountsResponse>, Status> {
        unimplemented()
    }
    async fn count_affected_accounts(
        &self,
        _: Request<CountAffectedAccountsRequest>,
    ) -> Result<Response<CountAffectedAccountsResponse>, Status> {
        unimplemented()
    }
    async fn get_incident(
        &self,
        _: Request<GetIncidentRequest>,
    ) -> Result<Response<GetIncidentResponse>, Status> {
        unimplemented()
    }
    async fn list_affected_accounts(
        &self,
        _: Request<ListAffectedAccountsRequest>,
    ) -> Result<Response<ListAffectedAccountsResponse>, Status> {
        unimplemented()
    }
    async fn get_incident_progress(
        &self,
        _: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        unimplemented()
    }
    async fn list_incidents(
        &self,
        _: Request<ListIncidentsRequest>,
    ) -> Result<Response<ListIncidentsResponse>, Status> {
        unimplemented()
    }
}
