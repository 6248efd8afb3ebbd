//! Who is calling: the client address for throttling, and the member behind
//! a session token.

use std::net::SocketAddr;

use candor_platform::auth::{Credentials, Principal, bearer_token};
use sqlx::PgConnection;
use tonic::metadata::MetadataMap;

use super::error::{ApiError, DbContext as _};
use crate::store::sessions::{self, LiveSession};
use crate::tokens;

/// The client address: the transport peer, or the first `x-forwarded-for`
/// entry when a trusted front end (SERVICE_TOKEN) forwards the call.
pub fn client_address(
    metadata: &MetadataMap,
    peer: Option<SocketAddr>,
    credentials: &Credentials,
) -> String {
    let trusted = bearer_token(metadata)
        .ok()
        .and_then(|token| credentials.principal_of(token))
        == Some(Principal::Service);
    if trusted
        && let Some(forwarded) = metadata
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    {
        return forwarded.to_owned();
    }
    peer.map_or_else(|| "unknown".to_owned(), |peer| peer.ip().to_string())
}

/// The live session of the bearer token in `metadata`.
pub async fn member_session(
    conn: &mut PgConnection,
    metadata: &MetadataMap,
) -> Result<LiveSession, ApiError> {
    let token = bearer_token(metadata)?;
    sessions::find_live(conn, &tokens::hash(token))
        .await
        .db("looking up the session")?
        .ok_or(ApiError::Unauthenticated(
            "session is unknown, expired or revoked",
        ))
}
