//! The `candor.membership.v1.MembershipService` gRPC API: this file only
//! routes each RPC to its file (named after it) and answers its error
//! through the platform's error-kind table.

use std::sync::Arc;

use candor_platform::auth::{SessionResolver, admitted};
use candor_platform::grpc::respond;
use candor_proto::membership::v1::membership_service_server::MembershipService;
use candor_proto::membership::v1::{
    GetIncidentProgressRequest, GetIncidentProgressResponse, GetMembershipRequest,
    GetMembershipResponse, GrantCreditRequest, GrantCreditResponse, ListCreditsRequest,
    ListCreditsResponse,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

mod convert;
mod get_incident_progress;
mod get_membership;
mod grant_credit;
mod list_credits;

/// The API's state: the pool and who may call.
#[derive(Clone)]
pub struct MembershipApi {
    pool: PgPool,
    sessions: Arc<SessionResolver>,
}

impl MembershipApi {
    pub fn new(pool: PgPool, sessions: Arc<SessionResolver>) -> Self {
        Self { pool, sessions }
    }
}

#[tonic::async_trait]
impl MembershipService for MembershipApi {
    #[tracing::instrument(skip_all, fields(rpc = "GetMembership"))]
    async fn get_membership(
        &self,
        request: Request<GetMembershipRequest>,
    ) -> Result<Response<GetMembershipResponse>, Status> {
        respond(get_membership::get_membership(self, request).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListCredits"))]
    async fn list_credits(
        &self,
        request: Request<ListCreditsRequest>,
    ) -> Result<Response<ListCreditsResponse>, Status> {
        respond(list_credits::list_credits(self, request).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "GrantCredit"))]
    async fn grant_credit(
        &self,
        request: Request<GrantCreditRequest>,
    ) -> Result<Response<GrantCreditResponse>, Status> {
        admitted(&request)?;
        respond(grant_credit::grant_credit(&self.pool, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetIncidentProgress"))]
    async fn get_incident_progress(
        &self,
        request: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        admitted(&request)?;
        respond(
            get_incident_progress::get_incident_progress(&self.pool, request.into_inner()).await,
        )
    }
}
