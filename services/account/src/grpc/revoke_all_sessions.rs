//! RevokeAllSessions: ends every session of the calling member.

use anyhow::Context as _;
use candor_proto::account::v1::{RevokeAllSessionsRequest, RevokeAllSessionsResponse};
use tonic::Request;

use super::Shared;
use super::caller::member_session;
use crate::errors::RevokeAllSessionsError;
use crate::store::sessions;

#[tracing::instrument(skip_all)]
pub async fn revoke_all_sessions(
    shared: &Shared,
    request: Request<RevokeAllSessionsRequest>,
) -> Result<RevokeAllSessionsResponse, RevokeAllSessionsError> {
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let session = member_session(&mut conn, request.metadata()).await?;
    let revoked = sessions::revoke_all(&mut conn, session.account_id)
        .await
        .context("revoking the sessions")?;
    tracing::info!(account_id = %session.account_id, revoked, "every session ended");
    Ok(RevokeAllSessionsResponse {
        revoked_sessions: u32::try_from(revoked).unwrap_or(u32::MAX),
    })
}
