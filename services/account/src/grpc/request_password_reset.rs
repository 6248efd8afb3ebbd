//! RequestPasswordReset: emails a reset link to an active account's
//! address (throttled per address and per email); answers the same whether
//! the address is known or not.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{RequestPasswordResetRequest, RequestPasswordResetResponse};
use candor_proto::notification::v1::{PasswordResetEmail, SendEmailRequest, send_email_request};
use tonic::Request;

use super::Shared;
use super::caller::{client_address, throttled};
use crate::convert;
use crate::domain::tokens;
use crate::domain::validation::normalize_email;
use crate::errors::RequestPasswordResetError;
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, throttles};

const RESET_TOKEN_SECONDS: u32 = 3600;
/// Reset emails one address may receive per hour.
const RESETS_PER_EMAIL_PER_HOUR: u32 = 5;

#[tracing::instrument(skip_all)]
pub async fn request_password_reset(
    shared: &Shared,
    request: Request<RequestPasswordResetRequest>,
) -> Result<RequestPasswordResetResponse, RequestPasswordResetError> {
    let address = client_address(&request);
    let email = normalize_email(&request.get_ref().email)
        .map_err(|error| InvalidField::new("email", error))?;
    let mut tx = shared
        .pool
        .begin()
        .await
        .context("beginning the reset request")?;
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
            .context("counting reset requests")?
        {
            tx.commit().await.context("committing the throttle")?;
            return Err(throttled(wait).into());
        }
    }
    let account = accounts::find_active_by_email(&mut tx, &email)
        .await
        .context("looking up the account")?;
    let Some(account) = account else {
        tx.commit().await.context("committing the throttle")?;
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
    .context("issuing the reset token")?;
    tx.commit().await.context("committing the reset token")?;
    // From the background only: an answer that waited for the notification
    // service for a known address, and not for an unknown one, would tell
    // by its timing which addresses have accounts.
    shared.notifier.send_in_background(
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
