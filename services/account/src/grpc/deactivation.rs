//! RequestDeactivation and ConfirmDeactivation.

use candor_platform::outbox;
use candor_proto::account::v1::{
    ConfirmDeactivationRequest, ConfirmDeactivationResponse, RequestDeactivationRequest,
    RequestDeactivationResponse,
};
use candor_proto::events::v1::AccountDeactivated;
use candor_proto::notification::v1::{
    DeactivationConfirmationEmail, SendEmailRequest, send_email_request,
};
use tonic::Request;

use super::Shared;
use super::caller::member_session;
use super::error::{ApiError, DbContext as _};
use crate::convert;
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, sessions, throttles};
use crate::tokens;
use crate::validation::TOKEN;

const DEACTIVATION_TOKEN_SECONDS: u32 = 24 * 3600;
/// Confirmation emails per account per hour.
const REQUESTS_PER_ACCOUNT_PER_HOUR: u32 = 5;
const INVALID_TOKEN: &str = "deactivation token is unknown or expired";

#[tracing::instrument(skip_all)]
pub async fn request_deactivation(
    shared: &Shared,
    request: Request<RequestDeactivationRequest>,
) -> Result<RequestDeactivationResponse, ApiError> {
    let mut tx = shared
        .pool
        .begin()
        .await
        .db("beginning the deactivation request")?;
    let session = member_session(&mut tx, request.metadata()).await?;
    let account = accounts::find(&mut tx, session.account_id)
        .await
        .db("reading the account")?
        .ok_or(ApiError::Unauthenticated(
            "session is unknown, expired or revoked",
        ))?;
    let Some(email) = account.email.clone() else {
        return Err(ApiError::FailedPrecondition(
            "the account has no email address to confirm with; ask staff",
        ));
    };
    let key = format!("deactivation:{}", account.account_id);
    if let Some(wait) = throttles::count_request(&mut tx, &key, REQUESTS_PER_ACCOUNT_PER_HOUR)
        .await
        .db("counting deactivation requests")?
    {
        tx.commit().await.db("committing the throttle")?;
        return Err(ApiError::Throttled {
            retry_after_seconds: wait,
        });
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
    .db("issuing the deactivation token")?;
    tx.commit().await.db("committing the deactivation token")?;
    shared.notifier.send(
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
    );
    tracing::info!(account_id = %account.account_id, "deactivation requested");
    Ok(RequestDeactivationResponse {
        confirmation_expires_at: Some(convert::timestamp(expires_at)),
    })
}

#[tracing::instrument(skip_all)]
pub async fn confirm_deactivation(
    shared: &Shared,
    request: Request<ConfirmDeactivationRequest>,
) -> Result<ConfirmDeactivationResponse, ApiError> {
    let token = request.into_inner().deactivation_token;
    TOKEN
        .check_verbatim(&token)
        .map_err(|reason| ApiError::invalid("deactivation_token", reason))?;
    let token_hash = tokens::hash(&token);
    let mut tx = shared.pool.begin().await.db("beginning the deactivation")?;
    let Some(account_id) = token_store::find_open(&mut tx, &token_hash, Purpose::Deactivation)
        .await
        .db("looking up the deactivation token")?
    else {
        // A replay of a confirmed token answers as the first time did.
        let replay = token_store::find_used(&mut tx, &token_hash, Purpose::Deactivation)
            .await
            .db("looking up a used deactivation token")?;
        if let Some(account_id) = replay
            && let Some(account) = accounts::find(&mut tx, account_id)
                .await
                .db("reading the account")?
            && let Some(deactivated_at) = account.deactivated_at
        {
            return Ok(ConfirmDeactivationResponse {
                account_id: account_id.to_string(),
                deactivated_at: Some(convert::timestamp(deactivated_at)),
            });
        }
        return Err(ApiError::Unauthenticated(INVALID_TOKEN));
    };
    token_store::mark_used(&mut tx, &token_hash)
        .await
        .db("using the deactivation token")?;
    let deactivated_at = match accounts::deactivate(&mut tx, account_id)
        .await
        .db("deactivating the account")?
    {
        Some(deactivated_at) => {
            sessions::revoke_all(&mut tx, account_id)
                .await
                .db("revoking sessions")?;
            let event = AccountDeactivated {
                account_id: account_id.to_string(),
                deactivated_at: Some(convert::timestamp(deactivated_at)),
            };
            outbox::enqueue_event(&mut tx, &event)
                .await
                .db("enqueueing account.deactivated")?;
            deactivated_at
        }
        None => accounts::find(&mut tx, account_id)
            .await
            .db("reading the account")?
            .and_then(|account| account.deactivated_at)
            .ok_or(ApiError::Unauthenticated(INVALID_TOKEN))?,
    };
    tx.commit().await.db("committing the deactivation")?;
    tracing::info!(%account_id, "account deactivated");
    Ok(ConfirmDeactivationResponse {
        account_id: account_id.to_string(),
        deactivated_at: Some(convert::timestamp(deactivated_at)),
    })
}
