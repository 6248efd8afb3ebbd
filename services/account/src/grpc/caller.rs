//! Who is calling: the client address for throttling, and the member behind
//! a session token.

use candor_platform::auth::{ClientAddress, bearer_token};
use sqlx::PgConnection;
use tonic::Request;
use tonic::metadata::MetadataMap;

use super::error::{ApiError, DbContext as _};
use crate::store::sessions::{self, LiveSession};
use crate::tokens;

/// The client address for throttling: the one the server's permission
/// layer worked out (the transport peer, or the right-most untrusted
/// `x-forwarded-for` hop from a trusted proxy caller; see
/// `candor_platform::auth::forwarded`).
pub fn client_address<T>(request: &Request<T>) -> String {
    ClientAddress::of(request)
        .or_else(|| request.remote_addr().map(|peer| peer.ip()))
        .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
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
