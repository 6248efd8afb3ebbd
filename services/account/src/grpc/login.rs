//! Login: verifies a password (throttled per account and per address) and
//! opens a session, or a password change token when one is required; both
//! say how many security notices wait for the member.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_platform::validation::single_line;
use candor_proto::account::v1::{
    LoginRequest, LoginResponse, PasswordChangeRequired, login_response,
};
use tonic::Request;

use super::Shared;
use super::caller::{client_address, throttled};
use crate::convert;
use crate::domain::sessions::open_session;
use crate::domain::tokens;
use crate::domain::validation::normalize_email;
use crate::errors::LoginError;
use crate::password::{StoredPassword, Verified, policy::MAX_PASSWORD_BYTES};
use crate::store::accounts::{self, PASSWORD_CHANGE_REQUIRED, PASSWORD_RESET_REQUIRED};
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{notices, throttles};

/// Lifetime of the token that only ChangePassword accepts.
const PASSWORD_CHANGE_TOKEN_SECONDS: u32 = 15 * 60;

/// A password as sent: 1..=1024 bytes (the policy checks new ones further).
pub(super) fn check_password_field(
    field: &'static str,
    password: &str,
) -> Result<(), InvalidField> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(InvalidField::new(field, "must be 1..=1024 bytes"));
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn login(
    shared: &Shared,
    request: Request<LoginRequest>,
) -> Result<LoginResponse, LoginError> {
    let address = client_address(&request);
    let request = request.into_inner();
    let raw_email =
        single_line(&request.email, 1, 254).map_err(|reason| InvalidField::new("email", reason))?;
    check_password_field("password", &request.password)?;
    // An unparseable address is looked up (and throttled) like any other, so
    // the answer does not depend on it.
    let email = normalize_email(raw_email).unwrap_or_else(|_| raw_email.to_owned());
    let account_key = format!("login-account:{}", email.to_lowercase());
    let address_key = format!("login-address:{address}");

    let address_free = shared.settings.login_failures_per_address;
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
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
    .context("reserving a login attempt")?
    {
        return Err(throttled(wait).into());
    }
    let account = accounts::find_active_by_email(&mut conn, &email)
        .await
        .context("looking up the account")?;
    drop(conn);

    let stored = account
        .as_ref()
        .map_or(StoredPassword::None, accounts::AccountRow::stored_password);
    let verified = shared.hasher.verify(&request.password, stored).await?;
    let mut tx = shared.pool.begin().await.context("beginning the login")?;
    let account = match (verified, account) {
        (Verified::Valid { upgraded }, Some(account))
            if account.password_state != PASSWORD_RESET_REQUIRED =>
        {
            if let (Some(upgraded), Some(wrapped)) = (upgraded, &account.password_hash) {
                accounts::upgrade_hash(&mut tx, account.account_id, wrapped, &upgraded)
                    .await
                    .context("upgrading the password hash")?;
                tracing::info!(account_id = %account.account_id, "password hash upgraded to the argon2id policy");
            }
            account
        }
        _ => {
            // The reservation already counted this failure.
            drop(tx);
            tracing::info!("login failed");
            return Err(LoginError::Failed);
        }
    };
    throttles::clear(&mut tx, &account_key)
        .await
        .context("clearing throttles")?;
    throttles::release(&mut tx, &address_key, address_free)
        .await
        .context("releasing the address reservation")?;
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
        .context("issuing the password change token")?;
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
    // Shown before anything else, also on the way to a password change.
    let pending_notices = notices::count_pending(&mut tx, account.account_id)
        .await
        .context("counting pending notices")?;
    tx.commit().await.context("committing the login")?;
    tracing::info!(account_id = %account.account_id, "login succeeded");
    Ok(LoginResponse {
        result: Some(result),
        pending_notice_count: u32::try_from(pending_notices).unwrap_or(u32::MAX),
    })
}
