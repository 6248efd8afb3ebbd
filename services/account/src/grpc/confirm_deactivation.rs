//! ConfirmDeactivation: with the emailed token, deactivates the account,
//! ends its sessions and announces `account.deactivated` through the
//! outbox; a replay answers as the first confirmation did.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_platform::outbox;
use candor_proto::account::v1::{ConfirmDeactivationRequest, ConfirmDeactivationResponse};
use candor_proto::events::v1::AccountDeactivated;
use tonic::Request;

use super::Shared;
use crate::convert;
use crate::domain::tokens;
use crate::domain::validation::TOKEN;
use crate::errors::ConfirmDeactivationError;
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, sessions};

#[tracing::instrument(skip_all)]
pub async fn confirm_deactivation(
    shared: &Shared,
    request: Request<ConfirmDeactivationRequest>,
) -> Result<ConfirmDeactivationResponse, ConfirmDeactivationError> {
    let token = request.into_inner().deactivation_token;
    TOKEN
        .check_verbatim(&token)
        .map_err(|reason| InvalidField::new("deactivation_token", reason))?;
    let token_hash = tokens::hash(&token);
    let mut tx = shared
        .pool
        .begin()
        .await
        .context("beginning the deactivation")?;
    let Some(account_id) = token_store::find_open(&mut tx, &token_hash, Purpose::Deactivation)
        .await
        .context("looking up the deactivation token")?
    else {
        // A replay of a confirmed token answers as the first time did.
        let replay = token_store::find_used(&mut tx, &token_hash, Purpose::Deactivation)
            .await
            .context("looking up a used deactivation token")?;
        if let Some(account_id) = replay
            && let Some(account) = accounts::find(&mut tx, account_id)
                .await
                .context("reading the account")?
            && let Some(deactivated_at) = account.deactivated_at
        {
            return Ok(ConfirmDeactivationResponse {
                account_id: account_id.to_string(),
                deactivated_at: Some(convert::timestamp(deactivated_at)),
            });
        }
        return Err(ConfirmDeactivationError::InvalidToken);
    };
    token_store::mark_used(&mut tx, &token_hash)
        .await
        .context("using the deactivation token")?;
    let deactivated_at = match accounts::deactivate(&mut tx, account_id)
        .await
        .context("deactivating the account")?
    {
        Some(deactivated_at) => {
            sessions::revoke_all(&mut tx, account_id)
                .await
                .context("revoking sessions")?;
            let event = AccountDeactivated {
                account_id: account_id.to_string(),
                deactivated_at: Some(convert::timestamp(deactivated_at)),
            };
            outbox::enqueue_event(&mut tx, &event)
                .await
                .context("enqueueing account.deactivated")?;
            deactivated_at
        }
        None => accounts::find(&mut tx, account_id)
            .await
            .context("reading the account")?
            .and_then(|account| account.deactivated_at)
            .ok_or(ConfirmDeactivationError::InvalidToken)?,
    };
    tx.commit().await.context("committing the deactivation")?;
    tracing::info!(%account_id, "account deactivated");
    Ok(ConfirmDeactivationResponse {
        account_id: account_id.to_string(),
        deactivated_at: Some(convert::timestamp(deactivated_at)),
    })
}
