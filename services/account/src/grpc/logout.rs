//! Logout: ends the session presented.

use anyhow::Context as _;
use candor_proto::account::v1::{LogoutRequest, LogoutResponse};
use tonic::Request;

use super::Shared;
use super::caller::member_session;
use crate::errors::{LogoutError, NoSession};
use crate::store::sessions;

#[tracing::instrument(skip_all)]
pub async fn logout(
    shared: &Shared,
    request: Request<LogoutRequest>,
) -> Result<LogoutResponse, LogoutError> {
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let session = member_session(&mut conn, request.metadata()).await?;
    // Two concurrent Logouts of one token: the second finds it revoked.
    if !sessions::revoke(&mut conn, &session.token_hash)
        .await
        .context("revoking the session")?
    {
        return Err(NoSession::Ended.into());
    }
    tracing::info!(account_id = %session.account_id, "session ended by logout");
    Ok(LogoutResponse {})
}
