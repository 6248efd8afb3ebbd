//! GetAccount: an operator reads any account, a member their own.

use anyhow::Context as _;
use candor_platform::auth::Identity;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{GetAccountRequest, GetAccountResponse};
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::caller::member_session;
use crate::convert;
use crate::errors::GetAccountError;
use crate::store::accounts;

/// The `account_id` request field.
pub(super) fn parse_account_id(raw: &str) -> Result<Uuid, InvalidField> {
    Uuid::parse_str(raw).map_err(|_| InvalidField::new("account_id", "must be a UUID"))
}

#[tracing::instrument(skip_all)]
pub async fn get_account(
    shared: &Shared,
    request: Request<GetAccountRequest>,
) -> Result<GetAccountResponse, GetAccountError> {
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    // The permission table admits operators in their own right; anyone else
    // here is a member.
    let account_id = if Identity::of(&request).acting_caller().is_some() {
        parse_account_id(&request.get_ref().account_id)?
    } else {
        let session = member_session(&mut conn, request.metadata()).await?;
        let requested = &request.get_ref().account_id;
        if !requested.is_empty() && parse_account_id(requested)? != session.account_id {
            return Err(GetAccountError::OtherAccount);
        }
        session.account_id
    };
    let row = accounts::find(&mut conn, account_id)
        .await
        .context("reading the account")?
        .ok_or(GetAccountError::AccountNotFound)?;
    Ok(GetAccountResponse {
        account: Some(convert::account(&row)),
    })
}
