//! Opening a member session: a fresh bearer token, of which only the hash is
//! stored.

use anyhow::Context as _;
use candor_proto::account::v1::Session;
use sqlx::PgConnection;
use uuid::Uuid;

use super::tokens;
use crate::convert;
use crate::store::sessions;

/// Opens a session for the account; the caller commits.
pub async fn open_session(
    conn: &mut PgConnection,
    account_id: Uuid,
    ttl_seconds: u32,
) -> anyhow::Result<Session> {
    let token = tokens::issue();
    let expires_at = sessions::create(conn, &token.hash, account_id, ttl_seconds)
        .await
        .context("creating the session")?;
    Ok(Session {
        session_token: token.secret,
        account_id: account_id.to_string(),
        expires_at: Some(convert::timestamp(expires_at)),
    })
}
