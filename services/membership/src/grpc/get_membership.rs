//! GetMembership: an account's tier, balances and whether it is closed.

use anyhow::Context;
use candor_proto::membership::v1::{GetMembershipRequest, GetMembershipResponse};
use sqlx::PgPool;

use super::caller::Caller;
use super::convert;
use super::errors::{GetMembershipError, InvalidField};
use crate::domain::validation::parse_uuid;
use crate::store::memberships;

pub(super) async fn run(
    pool: &PgPool,
    caller: Caller,
    request: GetMembershipRequest,
) -> Result<GetMembershipResponse, GetMembershipError> {
    let account_id = parse_uuid(&request.account_id)
        .ok_or_else(|| InvalidField::new("account_id", "must be a UUID"))?;
    if let Caller::Member(own) = caller
        && own != account_id
    {
        return Err(GetMembershipError::OtherAccount);
    }
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    let stored = memberships::get(&mut conn, account_id)
        .await
        .context("reading the membership")?;
    Ok(GetMembershipResponse {
        membership: Some(convert::membership(&stored, chrono::Utc::now())),
    })
}
