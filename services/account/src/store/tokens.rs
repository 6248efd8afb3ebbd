//! The `account_tokens` table: single-use tokens by their SHA-256.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum Purpose {
    PasswordChange = 1,
    PasswordReset = 2,
    Deactivation = 3,
}

impl Purpose {
    /// The `purpose` column's value.
    fn code(self) -> i16 {
        self as i16
    }
}

/// Stores a new token and supersedes the account's earlier open tokens of
/// the same purpose (a later reset link invalidates earlier ones).
pub async fn issue(
    conn: &mut PgConnection,
    token_hash: &[u8],
    account_id: Uuid,
    purpose: Purpose,
    ttl_seconds: u32,
) -> sqlx::Result<DateTime<Utc>> {
    let purpose = purpose.code();
    sqlx::query!(
        "UPDATE account_tokens SET superseded_at = now()
         WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL AND superseded_at IS NULL",
        account_id,
        purpose,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        "INSERT INTO account_tokens (token_hash, account_id, purpose, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         RETURNING expires_at",
        token_hash,
        account_id,
        purpose,
        f64::from(ttl_seconds),
    )
    .fetch_one(conn)
    .await
}

/// The account of an open (unused, unsuperseded, unexpired) token, locked
/// until the transaction ends so it is used at most once.
pub async fn find_open(
    conn: &mut PgConnection,
    token_hash: &[u8],
    purpose: Purpose,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT account_id FROM account_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND superseded_at IS NULL
           AND expires_at > now()
         FOR UPDATE",
        token_hash,
        purpose.code(),
    )
    .fetch_optional(conn)
    .await
}

/// Marks a token used.
pub async fn mark_used(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE account_tokens SET used_at = now() WHERE token_hash = $1",
        token_hash,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The account of a token already used for `purpose` (an idempotent replay).
pub async fn find_used(
    conn: &mut PgConnection,
    token_hash: &[u8],
    purpose: Purpose,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT account_id FROM account_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NOT NULL",
        token_hash,
        purpose.code(),
    )
    .fetch_optional(conn)
    .await
}
