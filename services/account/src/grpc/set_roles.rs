//! SetRoles: an operator sets an active account's roles.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{Role, SetRolesRequest, SetRolesResponse};
use tonic::Request;

use super::Shared;
use super::get_account::parse_account_id;
use crate::convert;
use crate::errors::SetRolesError;
use crate::store::accounts;

#[tracing::instrument(skip_all)]
pub async fn set_roles(
    shared: &Shared,
    request: Request<SetRolesRequest>,
) -> Result<SetRolesResponse, SetRolesError> {
    let request = request.into_inner();
    let account_id = parse_account_id(&request.account_id)?;
    if request.roles.len() > 8 {
        return Err(InvalidField::new("roles", "at most 8 entries").into());
    }
    let mut roles = Vec::with_capacity(request.roles.len());
    for role in request.roles {
        match Role::try_from(role) {
            Ok(Role::Unspecified) | Err(_) => {
                return Err(
                    InvalidField::new("roles", "contains an unspecified or unknown role").into(),
                );
            }
            Ok(role) => roles.push(role as i16),
        }
    }
    roles.sort_unstable();
    roles.dedup();
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    if let Some(row) = accounts::set_roles(&mut conn, account_id, &roles)
        .await
        .context("updating roles")?
    {
        tracing::info!(%account_id, ?roles, "roles set");
        return Ok(SetRolesResponse {
            account: Some(convert::account(&row)),
        });
    }
    match accounts::find(&mut conn, account_id)
        .await
        .context("reading the account")?
    {
        None => Err(SetRolesError::AccountNotFound),
        Some(_) => Err(SetRolesError::Deactivated),
    }
}
