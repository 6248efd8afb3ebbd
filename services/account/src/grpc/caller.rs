//! Who is calling and what every session RPC shares: the client address
//! for throttling, the member behind a session token, and a throttle's wait
//! as the platform's `Throttled`.

use anyhow::Context as _;
use candor_platform::auth::{ClientAddress, bearer_token};
use candor_platform::grpc::{Refused, Throttled};
use sqlx::PgConnection;
use tonic::Request;
use tonic::metadata::MetadataMap;

use crate::domain::tokens;
use crate::errors::{NoSession, SessionLookupError};
use crate::store::sessions::{self, LiveSession};

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
) -> Result<LiveSession, SessionLookupError> {
    let token = bearer_token(metadata).map_err(|status| NoSession::Credential(Refused(status)))?;
    Ok(sessions::find_live(conn, &tokens::hash(token))
        .await
        .context("looking up the session")?
        .ok_or(NoSession::Ended)?)
}

/// A throttle's wait in seconds (as the store answers it) as the refusal
/// the RPCs return; `retry-after` is at least one second.
pub fn throttled(wait_seconds: i64) -> Throttled {
    Throttled {
        retry_after_seconds: u64::try_from(wait_seconds).unwrap_or(0),
    }
}
