//! RequestDeactivation: emails the member a link that confirms the
//! deactivation of their account (throttled per account).

use anyhow::Context as _;
use candor_proto::account::v1::{RequestDeactivationRequest, RequestDeactivationResponse};
use candor_proto::notification::v1::{
    DeactivationConfirmationEmail, SendEmailRequest, send_email_request,
};
use tonic::Request;

use super::Shared;
use super::caller::{member_session, throttled};
use crate::convert;
use crate::domain::tokens;
use crate::errors::{NoSession, RequestDeactivationError};
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, throttles};

const DEACTIVATION_TOKEN_SECONDS: u32 = 24 * 3600;
/// Confirmation emails per account per hour.
const REQUESTS_PER_ACCOUNT_PER_HOUR: u32 = 5;

#[tracing::instrument(skip_all)]
pub async fn request_deactivation(
    shared: &Shared,
    request: Request<RequestDeactivationRequest>,
) -> Result<RequestDeactivationResponse, RequestDeactivationError> {
    let mut tx = shared
        .pool
        .begin()
        .await
        .context("beginning the deactivation request")?;
    let session = member_session(&mut tx, request.metadata()).await?;
    let account = accounts::find(&mut tx, session.account_id)
        .await
        .context("reading the account")?
        .ok_or(NoSession::Ended)?;
    let Some(email) = account.email.clone() else {
        return Err(RequestDeactivationError::NoEmail);
    };
    let key = format!("deactivation:{}", account.account_id);
    if let Some(wait) = throttles::count_request(&mut tx, &key, REQUESTS_PER_ACCOUNT_PER_HOUR)
        .await
        .context("counting deactivation requests")?
    {
        tx.commit().await.context("committing the throttle")?;
        return Err(throttled(wait).into());
    }
    let token = tokens::issue();
    let expires_at = token_store::issue(
        &mut tx,
        &token.hash,
        account.account_id,
        Purpose::Deactivation,
        DEACTIVATION_TOKEN_SECONDS,
    )
    .await
    .context("issuing the deactivation token")?;
    tx.commit()
        .await
        .context("committing the deactivation token")?;
    shared
        .notifier
        .send(
            "deactivation_confirmation",
            SendEmailRequest {
                idempotency_key: format!("deactivation:{}", hex::encode(&token.hash[..16])),
                account_id: account.account_id.to_string(),
                to_address: email,
                to_display_name: account.display_name.clone().unwrap_or_default(),
                content: Some(send_email_request::Content::DeactivationConfirmation(
                    DeactivationConfirmationEmail {
                        confirmation_url: shared
                            .settings
                            .links
                            .deactivation_confirmation(&token.secret),
                        expires_at: Some(convert::timestamp(expires_at)),
                    },
                )),
            },
        )
        .await;
    tracing::info!(account_id = %account.account_id, "deactivation requested");
    Ok(RequestDeactivationResponse {
        confirmation_expires_at: Some(convert::timestamp(expires_at)),
    })
}
