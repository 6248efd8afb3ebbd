//! ChangePassword: with a session or a password change token and the
//! current password (throttled per account), sets a new password, ends
//! every session and opens a new one.

use anyhow::Context as _;
use candor_platform::auth::bearer_token;
use candor_platform::grpc::{InvalidField, Refused};
use candor_proto::account::v1::{ChangePasswordRequest, ChangePasswordResponse};
use sqlx::PgConnection;
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::caller::throttled;
use super::login::check_password_field;
use crate::domain::password_change::{SingleUseToken, replace_password};
use crate::domain::tokens;
use crate::domain::validation::local_part;
use crate::errors::ChangePasswordError;
use crate::password::Verified;
use crate::store::accounts::AccountRow;
use crate::store::accounts::{self, PASSWORD_RESET_REQUIRED};
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{sessions, throttles};

/// The account behind a session token or an open password change token,
/// and the change token's hash when that is what was presented.
async fn change_password_caller(
    conn: &mut PgConnection,
    token: &str,
) -> Result<(Uuid, Option<Vec<u8>>), ChangePasswordError> {
    let hash = tokens::hash(token);
    if let Some(session) = sessions::find_live(conn, &hash)
        .await
        .context("looking up the session")?
    {
        return Ok((session.account_id, None));
    }
    let account_id = token_store::find_open(conn, &hash, Purpose::PasswordChange)
        .await
        .context("looking up the password change token")?
        .ok_or(ChangePasswordError::UnknownCredential)?;
    Ok((account_id, Some(hash)))
}

#[tracing::instrument(skip_all)]
pub async fn change_password(
    shared: &Shared,
    request: Request<ChangePasswordRequest>,
) -> Result<ChangePasswordResponse, ChangePasswordError> {
    let token = bearer_token(request.metadata())
        .map_err(Refused)?
        .to_owned();
    let request = request.into_inner();
    check_password_field("current_password", &request.current_password)?;
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
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
    .context("reserving a password change attempt")?
    {
        return Err(throttled(wait).into());
    }
    let account = accounts::find(&mut conn, account_id)
        .await
        .context("reading the account")?
        .filter(accounts::AccountRow::is_active)
        .ok_or(ChangePasswordError::UnknownCredential)?;
    drop(conn);
    check_new_password(shared, &account, &request.new_password).await?;

    let verified = shared
        .hasher
        .verify(&request.current_password, account.stored_password())
        .await?;
    if verified == Verified::Invalid || account.password_state == PASSWORD_RESET_REQUIRED {
        // The reservation already counted this failure.
        return Err(ChangePasswordError::WrongCurrentPassword);
    }
    if request.new_password == request.current_password {
        return Err(
            InvalidField::new("new_password", "must differ from the current password").into(),
        );
    }
    let new_hash = shared.hasher.hash(&request.new_password).await?;
    let mut tx = shared
        .pool
        .begin()
        .await
        .context("beginning the password change")?;
    let change_token = change_token.as_deref().map(|hash| SingleUseToken {
        hash,
        purpose: Purpose::PasswordChange,
    });
    let session = replace_password(
        &mut tx,
        account_id,
        &new_hash,
        change_token,
        shared.settings.session_ttl_seconds,
    )
    .await?;
    throttles::clear(&mut tx, &throttle_key)
        .await
        .context("clearing throttles")?;
    tx.commit()
        .await
        .context("committing the password change")?;
    tracing::info!(%account_id, "password changed");
    shared
        .notifier
        .password_changed(&account, chrono::Utc::now())
        .await;
    Ok(ChangePasswordResponse {
        session: Some(session),
    })
}

/// `new_password` against the policy (length, common and breached
/// passwords, the account's own email name), for ChangePassword and
/// ResetPassword.
pub(super) async fn check_new_password(
    shared: &Shared,
    account: &AccountRow,
    new_password: &str,
) -> Result<(), InvalidField> {
    shared
        .password_policy
        .check(new_password, account.email.as_deref().and_then(local_part))
        .await
        .map_err(|error| InvalidField::new("new_password", error))
}
