//! The `candor.membership.v1.MembershipService` gRPC API.

use candor_proto::membership::v1::membership_service_server::MembershipService;
use candor_proto::membership::v1::{
    GetIncidentProgressRequest, GetIncidentProgressResponse, GetMembershipRequest,
    GetMembershipResponse, GrantCreditRequest, GrantCreditResponse, ListCreditsRequest,
    ListCreditsResponse,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

pub mod caller;
mod convert;
mod errors;
mod get_membership;
mod grant_credit;
mod incident_progress;
mod list_credits;

pub use caller::Authenticator;

/// The API's state: the pool and who may call.
#[derive(Clone)]
pub struct MembershipApi {
    pool: PgPool,
    auth: Authenticator,
}

impl MembershipApi {
    pub fn new(pool: PgPool, auth: Authenticator) -> Self {
        Self { pool, auth }
    }
}

#[tonic::async_trait]
impl MembershipService for MembershipApi {
    #[tracing::instrument(skip_all, fields(rpc = "GetMembership"))]
    async fn get_membership(
        &self,
        request: Request<GetMembershipRequest>,
    ) -> Result<Response<GetMembershipResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let response = get_membership::run(&self.pool, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListCredits"))]
    async fn list_credits(
        &self,
        request: Request<ListCreditsRequest>,
    ) -> Result<Response<ListCreditsResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let response = list_credits::run(&self.pool, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GrantCredit"))]
    async fn grant_credit(
        &self,
        request: Request<GrantCreditRequest>,
    ) -> Result<Response<GrantCreditResponse>, Status> {
        candor_platform::auth::admitted(&request)?;
        let response = grant_credit::run(&self.pool, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetIncidentProgress"))]
    async fn get_incident_progress(
        &self,
        request: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        candor_platform::auth::admitted(&request)?;
        let response = incident_progress::run(&self.pool, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
