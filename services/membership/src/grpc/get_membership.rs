//! GetMembership: an account's tier, balances and whether it is closed.

use anyhow::Context;
use candor_platform::auth::Principal;
use candor_platform::grpc::InvalidField;
use candor_proto::membership::v1::{GetMembershipRequest, GetMembershipResponse};
use tonic::Request;

use super::{MembershipApi, convert};
use crate::domain::validation::parse_uuid;
use crate::errors::GetMembershipError;
use crate::store::memberships;

pub(super) async fn get_membership(
    api: &MembershipApi,
    request: Request<GetMembershipRequest>,
) -> Result<GetMembershipResponse, GetMembershipError> {
    let caller = api.sessions.resolve(&request).await?;
    let request = request.into_inner();
    let account_id = parse_uuid(&request.account_id)
        .ok_or_else(|| InvalidField::new("account_id", "must be a UUID"))?;
    if let Principal::Member(member) = &caller
        && member.account_id != account_id
    {
        return Err(GetMembershipError::OtherAccount);
    }
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let stored = memberships::get(&mut conn, account_id)
        .await
        .context("reading the membership")?;
    Ok(GetMembershipResponse {
        membership: Some(convert::membership(&stored, chrono::Utc::now())),
    })
}
