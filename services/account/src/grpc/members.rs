//! Register, ValidateSession, GetAccount, SetRoles.

use candor_platform::auth::{Identity, admitted};
use candor_platform::db::{ConstraintViolation, constraint_violation};
use candor_proto::account::v1::{
    GetAccountRequest, GetAccountResponse, RegisterRequest, RegisterResponse, Role,
    SetRolesRequest, SetRolesResponse, ValidateSessionRequest, ValidateSessionResponse,
};
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::caller::{client_address, member_session};
use super::error::{ApiError, DbContext as _};
use crate::convert;
use crate::store::{accounts, sessions, throttles};
use crate::tokens;
use crate::validation::{TOKEN, local_part, normalize_display_name, normalize_email};

#[tracing::instrument(skip_all)]
pub async fn register(
    shared: &Shared,
    request: Request<RegisterRequest>,
) -> Result<RegisterResponse, ApiError> {
    let address = client_address(&request);
    let request = request.into_inner();
    let email =
        normalize_email(&request.email).map_err(|error| ApiError::invalid("email", error))?;
    let display_name = normalize_display_name(&request.display_name)
        .map_err(|reason| ApiError::invalid("display_name", reason))?;
    shared
        .password_policy
        .check(&request.password, local_part(&email))
        .await
        .map_err(|error| ApiError::invalid("password", error))?;

    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let key = format!("register-address:{address}");
    if let Some(wait) = throttles::count_request(
        &mut conn,
        &key,
        shared.settings.requests_per_address_per_hour,
    )
    .await
    .db("counting registrations")?
    {
        return Err(ApiError::Throttled {
            retry_after_seconds: wait,
        });
    }
    if accounts::find_active_by_email(&mut conn, &email)
        .await
        .db("looking up the email")?
        .is_some()
    {
        return Err(ApiError::AlreadyExists("email: already registered"));
    }
    drop(conn);
    let password_hash = shared.hasher.hash(&request.password).await?;
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let row = accounts::insert(
        &mut conn,
        Uuid::now_v7(),
        &email,
        &display_name,
        &password_hash,
    )
    .await
    .map_err(|error| match constraint_violation(&error) {
        Some((ConstraintViolation::Unique, _)) => {
            ApiError::AlreadyExists("email: already registered")
        }
        _ => ApiError::internal(error, "inserting the account"),
    })?;
    tracing::info!(account_id = %row.account_id, "account registered");
    Ok(RegisterResponse {
        account: Some(convert::account(&row)),
    })
}

#[tracing::instrument(skip_all)]
pub async fn validate_session(
    shared: &Shared,
    request: Request<ValidateSessionRequest>,
) -> Result<ValidateSessionResponse, ApiError> {
    admitted(&request)?;
    let token = request.into_inner().session_token;
    TOKEN
        .check_verbatim(&token)
        .map_err(|reason| ApiError::invalid("session_token", reason))?;
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let session = sessions::find_live(&mut conn, &tokens::hash(&token))
        .await
        .db("looking up the session")?
        .ok_or(ApiError::NotFound("session is unknown, expired or revoked"))?;
    Ok(ValidateSessionResponse {
        account_id: session.account_id.to_string(),
        display_name: session.display_name,
        roles: convert::roles(&session.roles),
        expires_at: Some(convert::timestamp(session.expires_at)),
    })
}

fn parse_account_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid("account_id", "must be a UUID"))
}

#[tracing::instrument(skip_all)]
pub async fn get_account(
    shared: &Shared,
    request: Request<GetAccountRequest>,
) -> Result<GetAccountResponse, ApiError> {
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    // The permission table admits operators in their own right; anyone else
    // here is a member.
    let account_id = if Identity::of(&request).acting_caller().is_some() {
        parse_account_id(&request.get_ref().account_id)?
    } else {
        let session = member_session(&mut conn, request.metadata()).await?;
        let requested = &request.get_ref().account_id;
        if !requested.is_empty() && parse_account_id(requested)? != session.account_id {
            return Err(ApiError::PermissionDenied(
                "a member may only read their own account",
            ));
        }
        session.account_id
    };
    let row = accounts::find(&mut conn, account_id)
        .await
        .db("reading the account")?
        .ok_or(ApiError::NotFound("no such account"))?;
    Ok(GetAccountResponse {
        account: Some(convert::account(&row)),
    })
}

#[tracing::instrument(skip_all)]
pub async fn set_roles(
    shared: &Shared,
    request: Request<SetRolesRequest>,
) -> Result<SetRolesResponse, ApiError> {
    admitted(&request)?;
    let request = request.into_inner();
    let account_id = parse_account_id(&request.account_id)?;
    if request.roles.len() > 8 {
        return Err(ApiError::invalid("roles", "at most 8 entries"));
    }
    let mut roles = Vec::with_capacity(request.roles.len());
    for role in request.roles {
        match Role::try_from(role) {
            Ok(Role::Unspecified) | Err(_) => {
                return Err(ApiError::invalid(
                    "roles",
                    "contains an unspecified or unknown role",
                ));
            }
            Ok(role) => roles.push(role as i16),
        }
    }
    roles.sort_unstable();
    roles.dedup();
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    if let Some(row) = accounts::set_roles(&mut conn, account_id, &roles)
        .await
        .db("updating roles")?
    {
        tracing::info!(%account_id, ?roles, "roles set");
        return Ok(SetRolesResponse {
            account: Some(convert::account(&row)),
        });
    }
    match accounts::find(&mut conn, account_id)
        .await
        .db("reading the account")?
    {
        None => Err(ApiError::NotFound("no such account")),
        Some(_) => Err(ApiError::FailedPrecondition("the account is deactivated")),
    }
}
