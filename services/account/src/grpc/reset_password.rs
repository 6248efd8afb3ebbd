//! ResetPassword: with a reset token from the email, sets a new password,
//! ends every session and opens a new one; wrong tokens are throttled per
//! address.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{ResetPasswordRequest, ResetPasswordResponse};
use tonic::Request;

use super::Shared;
use super::caller::{client_address, throttled};
use super::change_password::check_new_password;
use crate::domain::password_change::{SingleUseToken, replace_password};
use crate::domain::tokens;
use crate::domain::validation::TOKEN;
use crate::errors::ResetPasswordError;
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, throttles};

/// Wrong reset tokens from one client before it is blocked.
const RESET_GUESSES_PER_ADDRESS: u32 = 10;

#[tracing::instrument(skip_all)]
pub async fn reset_password(
    shared: &Shared,
    request: Request<ResetPasswordRequest>,
) -> Result<ResetPasswordResponse, ResetPasswordError> {
    let address = client_address(&request);
    let request = request.into_inner();
    TOKEN
        .check_verbatim(&request.reset_token)
        .map_err(|reason| InvalidField::new("reset_token", reason))?;
    let guess_key = format!("reset-guess:{address}");
    let token_hash = tokens::hash(&request.reset_token);
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    if let Some(wait) = throttles::blocked_for(&mut conn, std::slice::from_ref(&guess_key))
        .await
        .context("checking throttles")?
    {
        return Err(throttled(wait).into());
    }
    let account_id = match token_store::find_open(&mut conn, &token_hash, Purpose::PasswordReset)
        .await
        .context("looking up the reset token")?
    {
        Some(account_id) if !request.reset_token.is_empty() => account_id,
        _ => {
            throttles::record_failure(&mut conn, &guess_key, RESET_GUESSES_PER_ADDRESS)
                .await
                .context("recording a wrong reset token")?;
            return Err(ResetPasswordError::InvalidToken);
        }
    };
    let account = accounts::find(&mut conn, account_id)
        .await
        .context("reading the account")?
        .filter(accounts::AccountRow::is_active)
        .ok_or(ResetPasswordError::InvalidToken)?;
    drop(conn);
    check_new_password(shared, &account, &request.new_password).await?;
    if shared
        .hasher
        .matches(&request.new_password, account.stored_password())
        .await?
    {
        return Err(InvalidField::new("new_password", "must differ from the old password").into());
    }
    let new_hash = shared.hasher.hash(&request.new_password).await?;

    let mut tx = shared.pool.begin().await.context("beginning the reset")?;
    let reset_token = SingleUseToken {
        hash: &token_hash,
        purpose: Purpose::PasswordReset,
    };
    let session = replace_password(
        &mut tx,
        account_id,
        &new_hash,
        Some(reset_token),
        shared.settings.session_ttl_seconds,
    )
    .await?;
    tx.commit().await.context("committing the reset")?;
    tracing::info!(%account_id, "password reset");
    shared
        .notifier
        .password_changed(&account, chrono::Utc::now())
        .await;
    Ok(ResetPasswordResponse {
        session: Some(session),
    })
}
