//! Storing a member's new password: the sequence ChangePassword and
//! ResetPassword share once each has done its own checks.

use anyhow::Context as _;
use candor_proto::account::v1::Session;
use sqlx::PgConnection;
use uuid::Uuid;

use super::sessions::open_session;
use crate::store::tokens::{self as token_store, Purpose};
use crate::store::{accounts, sessions};

/// The single-use token (password change or reset) that authorised the
/// change, by its stored hash.
#[derive(Debug, Clone, Copy)]
pub struct SingleUseToken<'a> {
    pub hash: &'a [u8],
    pub purpose: Purpose,
}

/// Why the new password was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReplacePasswordError {
    /// The token was used, superseded or expired after it was first read.
    #[error("the token is no longer open")]
    TokenNotOpen,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// In the caller's transaction: uses up `token` if one authorised the change
/// (locked and checked again, so of two concurrent uses one fails), stores
/// `new_hash` (which lifts any change or reset requirement), revokes every
/// session of the account and opens the one returned to the caller.
pub async fn replace_password(
    tx: &mut PgConnection,
    account_id: Uuid,
    new_hash: &str,
    token: Option<SingleUseToken<'_>>,
    session_ttl_seconds: u32,
) -> Result<Session, ReplacePasswordError> {
    if let Some(token) = token {
        token_store::find_open(tx, token.hash, token.purpose)
            .await
            .context("locking the token")?
            .ok_or(ReplacePasswordError::TokenNotOpen)?;
        token_store::mark_used(tx, token.hash)
            .await
            .context("using the token")?;
    }
    accounts::set_password(tx, account_id, new_hash)
        .await
        .context("storing the new password")?;
    sessions::revoke_all(tx, account_id)
        .await
        .context("revoking sessions")?;
    Ok(open_session(tx, account_id, session_ttl_seconds).await?)
}
