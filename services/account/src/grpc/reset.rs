//! RequestPasswordReset and ResetPassword.

use candor_proto::account::v1::{
    RequestPasswordResetRequest, RequestPasswordResetResponse, ResetPasswordRequest,
    ResetPasswordResponse,
};
use candor_proto::notification::v1::{PasswordResetEmail, SendEmailRequest, send_email_request};
use tonic::Request;

use super::Shared;
use super::caller::client_address;
use super::error::{ApiError, DbContext as _};
use super::login::open_session;
use crate::convert;
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, sessions, throttles};
use crate::tokens;
use crate::validation::{TOKEN, local_part, normalize_email};

const RESET_TOKEN_SECONDS: u32 = 3600;
/// Reset emails one address may receive per hour.
const RESETS_PER_EMAIL_PER_HOUR: u32 = 5;
/// Wrong reset tokens from one client before it is blocked.
const RESET_GUESSES_PER_ADDRESS: u32 = 10;
const INVALID_TOKEN: &str = "reset token is unknown, expired, superseded or already used";

#[tracing::instrument(skip_all)]
pub async fn request_password_reset(
    shared: &Shared,
    request: Request<RequestPasswordResetRequest>,
) -> Result<RequestPasswordResetResponse, ApiError> {
    let address = client_address(&request);
    let email = normalize_email(&request.get_ref().email)
        .map_err(|error| ApiError::invalid("email", error))?;
    let mut tx = shared
        .pool
        .begin()
        .await
        .db("beginning the reset request")?;
    for (key, limit) in [
        (
            format!("reset-address:{address}"),
            shared.settings.requests_per_address_per_hour,
        ),
        (
            format!("reset-email:{}", email.to_lowercase()),
            RESETS_PER_EMAIL_PER_HOUR,
        ),
    ] {
        if let Some(wait) = throttles::count_request(&mut tx, &key, limit)
            .await
            .db("counting reset requests")?
        {
            tx.commit().await.db("committing the throttle")?;
            return Err(ApiError::Throttled {
                retry_after_seconds: wait,
            });
        }
    }
    let account = accounts::find_active_by_email(&mut tx, &email)
        .await
        .db("looking up the account")?;
    let Some(account) = account else {
        tx.commit().await.db("committing the throttle")?;
        tracing::info!("password reset asked for an unknown address");
        return Ok(RequestPasswordResetResponse {});
    };
    let token = tokens::issue();
    let expires_at = token_store::issue(
        &mut tx,
        &token.hash,
        account.account_id,
        Purpose::PasswordReset,
        RESET_TOKEN_SECONDS,
    )
    .await
    .db("issuing the reset token")?;
    tx.commit().await.db("committing the reset token")?;
    shared.notifier.send(
        "password_reset",
        SendEmailRequest {
            idempotency_key: format!("password-reset:{}", hex::encode(&token.hash[..16])),
            account_id: account.account_id.to_string(),
            to_address: account.email.clone().unwrap_or_default(),
            to_display_name: account.display_name.clone().unwrap_or_default(),
            content: Some(send_email_request::Content::PasswordReset(
                PasswordResetEmail {
                    reset_url: shared
                        .settings
                        .links
                        .password_reset_confirmation(&token.secret),
                    expires_at: Some(convert::timestamp(expires_at)),
                },
            )),
        },
    );
    tracing::info!(account_id = %account.account_id, "password reset requested");
    Ok(RequestPasswordResetResponse {})
}

#[tracing::instrument(skip_all)]
pub async fn reset_password(
    shared: &Shared,
    request: Request<ResetPasswordRequest>,
) -> Result<ResetPasswordResponse, ApiError> {
    let address = client_address(&request);
    let request = request.into_inner();
    TOKEN
        .check_verbatim(&request.reset_token)
        .map_err(|reason| ApiError::invalid("reset_token", reason))?;
    let guess_key = format!("reset-guess:{address}");
    let token_hash = tokens::hash(&request.reset_token);
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    if let Some(wait) = throttles::blocked_for(&mut conn, std::slice::from_ref(&guess_key))
        .await
        .db("checking throttles")?
    {
        return Err(ApiError::Throttled {
            retry_after_seconds: wait,
        });
    }
    let account_id = match token_store::find_open(&mut conn, &token_hash, Purpose::PasswordReset)
        .await
        .db("looking up the reset token")?
    {
        Some(account_id) if !request.reset_token.is_empty() => account_id,
        _ => {
            throttles::record_failure(&mut conn, &guess_key, RESET_GUESSES_PER_ADDRESS)
                .await
                .db("recording a wrong reset token")?;
            return Err(ApiError::Unauthenticated(INVALID_TOKEN));
        }
    };
    let account = accounts::find(&mut conn, account_id)
        .await
        .db("reading the account")?
        .filter(accounts::AccountRow::is_active)
        .ok_or(ApiError::Unauthenticated(INVALID_TOKEN))?;
    drop(conn);
    shared
        .password_policy
        .check(
            &request.new_password,
            account.email.as_deref().and_then(local_part),
        )
        .await
        .map_err(|error| ApiError::invalid("new_password", error))?;
    if shared
        .hasher
        .matches(&request.new_password, account.stored_password())
        .await?
    {
        return Err(ApiError::invalid(
            "new_password",
            "must differ from the old password",
        ));
    }
    let new_hash = shared.hasher.hash(&request.new_password).await?;

    let mut tx = shared.pool.begin().await.db("beginning the reset")?;
    if token_store::find_open(&mut tx, &token_hash, Purpose::PasswordReset)
        .await
        .db("locking the reset token")?
        .is_none()
    {
        return Err(ApiError::Unauthenticated(INVALID_TOKEN));
    }
    token_store::mark_used(&mut tx, &token_hash)
        .await
        .db("using the reset token")?;
    accounts::set_password(&mut tx, account_id, &new_hash)
        .await
        .db("storing the new password")?;
    sessions::revoke_all(&mut tx, account_id)
        .await
        .db("revoking sessions")?;
    let session = open_session(&mut tx, account_id, shared.settings.session_ttl_seconds).await?;
    tx.commit().await.db("committing the reset")?;
    tracing::info!(%account_id, "password reset");
    shared
        .notifier
        .password_changed(&account, chrono::Utc::now());
    Ok(ResetPasswordResponse {
        session: Some(session),
    })
}
