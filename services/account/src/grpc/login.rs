//! Login and ChangePassword: the paths that verify a password, throttled.

use candor_platform::auth::bearer_token;
use candor_proto::account::v1::{
    ChangePasswordRequest, ChangePasswordResponse, LoginRequest, LoginResponse,
    PasswordChangeRequired, Session, login_response,
};
use sqlx::PgConnection;
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::caller::client_address;
use super::error::{ApiError, DbContext as _};
use crate::convert;
use crate::password::{StoredPassword, Verified, policy::MAX_PASSWORD_BYTES};
use crate::store::accounts::{self, PASSWORD_CHANGE_REQUIRED, PASSWORD_RESET_REQUIRED};
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{sessions, throttles};
use crate::tokens;
use crate::validation::{local_part, normalize_email};
use candor_platform::validation::single_line;

/// The one answer for every failed login, so it reveals nothing.
const LOGIN_FAILED: &str = "email or password is wrong";
/// Lifetime of the token that only ChangePassword accepts.
const PASSWORD_CHANGE_TOKEN_SECONDS: u32 = 15 * 60;

/// Opens a session for the account; the caller commits.
pub async fn open_session(
    conn: &mut PgConnection,
    account_id: Uuid,
    ttl_seconds: u32,
) -> Result<Session, ApiError> {
    let token = tokens::issue();
    let expires_at = sessions::create(conn, &token.hash, account_id, ttl_seconds)
        .await
        .db("creating the session")?;
    Ok(Session {
        session_token: token.secret,
        account_id: account_id.to_string(),
        expires_at: Some(convert::timestamp(expires_at)),
    })
}

fn check_password_field(field: &'static str, password: &str) -> Result<(), ApiError> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(field, "must be 1..=1024 bytes"));
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn login(
    shared: &Shared,
    request: Request<LoginRequest>,
) -> Result<LoginResponse, ApiError> {
    let address = client_address(&request);
    let request = request.into_inner();
    let raw_email =
        single_line(&request.email, 1, 254).map_err(|reason| ApiError::invalid("email", reason))?;
    check_password_field("password", &request.password)?;
    // An unparseable address is looked up (and throttled) like any other, so
    // the answer does not depend on it.
    let email = normalize_email(raw_email).unwrap_or_else(|_| raw_email.to_owned());
    let account_key = format!("login-account:{}", email.to_lowercase());
    let address_key = format!("login-address:{address}");

    let address_free = shared.settings.login_failures_per_address;
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    // Reserved before the verify, in one statement: concurrent guesses
    // cannot all be evaluated.
    if let Some(wait) = throttles::reserve_attempt(
        &mut conn,
        &[
            (
                account_key.clone(),
                shared.settings.login_failures_per_account,
            ),
            (address_key.clone(), address_free),
        ],
    )
    .await
    .db("reserving a login attempt")?
    {
        return Err(ApiError::Throttled {
            retry_after_seconds: wait,
        });
    }
    let account = accounts::find_active_by_email(&mut conn, &email)
        .await
        .db("looking up the account")?;
    drop(conn);

    let stored = account
        .as_ref()
        .map_or(StoredPassword::None, accounts::AccountRow::stored_password);
    let verified = shared.hasher.verify(&request.password, stored).await?;
    let mut tx = shared.pool.begin().await.db("beginning the login")?;
    let account = match (verified, account) {
        (Verified::Valid { upgraded }, Some(account))
            if account.password_state != PASSWORD_RESET_REQUIRED =>
        {
            if let (Some(upgraded), Some(wrapped)) = (upgraded, &account.password_hash) {
                accounts::upgrade_hash(&mut tx, account.account_id, wrapped, &upgraded)
                    .await
                    .db("upgrading the password hash")?;
                tracing::info!(account_id = %account.account_id, "password hash upgraded to the argon2id policy");
            }
            account
        }
        _ => {
            // The reservation already counted this failure.
            drop(tx);
            tracing::info!("login failed");
            return Err(ApiError::Unauthenticated(LOGIN_FAILED));
        }
    };
    throttles::clear(&mut tx, &account_key)
        .await
        .db("clearing throttles")?;
    throttles::release(&mut tx, &address_key, address_free)
        .await
        .db("releasing the address reservation")?;
    let result = if account.password_state == PASSWORD_CHANGE_REQUIRED {
        let token = tokens::issue();
        let expires_at = token_store::issue(
            &mut tx,
            &token.hash,
            account.account_id,
            Purpose::PasswordChange,
            PASSWORD_CHANGE_TOKEN_SECONDS,
        )
        .await
        .db("issuing the password change token")?;
        login_response::Result::PasswordChangeRequired(PasswordChangeRequired {
            password_change_token: token.secret,
            expires_at: Some(convert::timestamp(expires_at)),
        })
    } else {
        login_response::Result::Session(
            open_session(
                &mut tx,
                account.account_id,
                shared.settings.session_ttl_seconds,
            )
            .await?,
        )
    };
    tx.commit().await.db("committing the login")?;
    tracing::info!(account_id = %account.account_id, "login succeeded");
    Ok(LoginResponse {
        result: Some(result),
    })
}

/// The account behind a session token or an open password change token,
/// and the change token's hash when that is what was presented.
async fn change_password_caller(
    conn: &mut PgConnection,
    token: &str,
) -> Result<(Uuid, Option<Vec<u8>>), ApiError> {
    let hash = tokens::hash(token);
    if let Some(session) = sessions::find_live(conn, &hash)
        .await
        .db("looking up the session")?
    {
        return Ok((session.account_id, None));
    }
    let account_id = token_store::find_open(conn, &hash, Purpose::PasswordChange)
        .await
        .db("looking up the password change token")?
        .ok_or(ApiError::Unauthenticated(
            "credential is unknown, expired or revoked",
        ))?;
    Ok((account_id, Some(hash)))
}

#[tracing::instrument(skip_all)]
pub async fn change_password(
    shared: &Shared,
    request: Request<ChangePasswordRequest>,
) -> Result<ChangePasswordResponse, ApiError> {
    let token = bearer_token(request.metadata())?.to_owned();
    let request = request.into_inner();
    check_password_field("current_password", &request.current_password)?;
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let (account_id, change_token) = change_password_caller(&mut conn, &token).await?;
    let throttle_key = format!("change-password:{account_id}");
    if let Some(wait) = throttles::reserve_attempt(
        &mut conn,
        &[(
            throttle_key.clone(),
            shared.settings.login_failures_per_account,
        )],
    )
    .await
    .db("reserving a password change attempt")?
    {
        return Err(ApiError::Throttled {
            retry_after_seconds: wait,
        });
    }
    let account = accounts::find(&mut conn, account_id)
        .await
        .db("reading the account")?
        .filter(accounts::AccountRow::is_active)
        .ok_or(ApiError::Unauthenticated(
            "credential is unknown, expired or revoked",
        ))?;
    drop(conn);
    shared
        .password_policy
        .check(
            &request.new_password,
            account.email.as_deref().and_then(local_part),
        )
        .await
        .map_err(|error| ApiError::invalid("new_password", error))?;

    let verified = shared
        .hasher
        .verify(&request.current_password, account.stored_password())
        .await?;
    if verified == Verified::Invalid || account.password_state == PASSWORD_RESET_REQUIRED {
        // The reservation already counted this failure.
        return Err(ApiError::Unauthenticated("current_password is wrong"));
    }
    if request.new_password == request.current_password {
        return Err(ApiError::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let new_hash = shared.hasher.hash(&request.new_password).await?;
    let mut tx = shared
        .pool
        .begin()
        .await
        .db("beginning the password change")?;
    if let Some(change_token) = &change_token {
        // Re-checked under lock: the token is single-use.
        if token_store::find_open(&mut tx, change_token, Purpose::PasswordChange)
            .await
            .db("locking the password change token")?
            .is_none()
        {
            return Err(ApiError::Unauthenticated(
                "credential is unknown, expired or revoked",
            ));
        }
        token_store::mark_used(&mut tx, change_token)
            .await
            .db("using the password change token")?;
    }
    accounts::set_password(&mut tx, account_id, &new_hash)
        .await
        .db("storing the new password")?;
    sessions::revoke_all(&mut tx, account_id)
        .await
        .db("revoking sessions")?;
    throttles::clear(&mut tx, &throttle_key)
        .await
        .db("clearing throttles")?;
    let session = open_session(&mut tx, account_id, shared.settings.session_ttl_seconds).await?;
    tx.commit().await.db("committing the password change")?;
    tracing::info!(%account_id, "password changed");
    shared
        .notifier
        .password_changed(&account, chrono::Utc::now());
    Ok(ChangePasswordResponse {
        session: Some(session),
    })
}
