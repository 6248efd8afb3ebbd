//! Register: a new member account with a password that passes the policy
//! (throttled per address).

use anyhow::Context as _;
use candor_platform::db::{ConstraintViolation, constraint_violation};
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{RegisterRequest, RegisterResponse};
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::caller::{client_address, throttled};
use crate::convert;
use crate::domain::validation::{local_part, normalize_display_name, normalize_email};
use crate::errors::RegisterError;
use crate::store::{accounts, throttles};

#[tracing::instrument(skip_all)]
pub async fn register(
    shared: &Shared,
    request: Request<RegisterRequest>,
) -> Result<RegisterResponse, RegisterError> {
    let address = client_address(&request);
    let request = request.into_inner();
    let email =
        normalize_email(&request.email).map_err(|error| InvalidField::new("email", error))?;
    let display_name = normalize_display_name(&request.display_name)
        .map_err(|reason| InvalidField::new("display_name", reason))?;
    shared
        .password_policy
        .check(&request.password, local_part(&email))
        .await
        .map_err(|error| InvalidField::new("password", error))?;

    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let key = format!("register-address:{address}");
    if let Some(wait) = throttles::count_request(
        &mut conn,
        &key,
        shared.settings.requests_per_address_per_hour,
    )
    .await
    .context("counting registrations")?
    {
        return Err(throttled(wait).into());
    }
    if accounts::find_active_by_email(&mut conn, &email)
        .await
        .context("looking up the email")?
        .is_some()
    {
        return Err(RegisterError::EmailTaken);
    }
    drop(conn);
    let password_hash = shared.hasher.hash(&request.password).await?;
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let row = accounts::insert(
        &mut conn,
        Uuid::now_v7(),
        &email,
        &display_name,
        &password_hash,
    )
    .await
    .map_err(|error| match constraint_violation(&error) {
        Some((ConstraintViolation::Unique, _)) => RegisterError::EmailTaken,
        _ => anyhow::Error::new(error)
            .context("inserting the account")
            .into(),
    })?;
    tracing::info!(account_id = %row.account_id, "account registered");
    Ok(RegisterResponse {
        account: Some(convert::account(&row)),
    })
}
