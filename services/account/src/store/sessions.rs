//! The `sessions` table: member sessions by the SHA-256 of their token.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A live session joined with its (active) account.
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// The SHA-256 of the session's token (the row's key).
    pub token_hash: Vec<u8>,
    pub account_id: Uuid,
    pub display_name: String,
    pub roles: Vec<i16>,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(
    conn: &mut PgConnection,
    token_hash: &[u8],
    account_id: Uuid,
    ttl_seconds: u32,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar!(
        "INSERT INTO sessions (token_hash, account_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         RETURNING expires_at",
        token_hash,
        account_id,
        f64::from(ttl_seconds),
    )
    .fetch_one(conn)
    .await
}

/// The session behind a token hash if it is unexpired, unrevoked and its
/// account active.
pub async fn find_live(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> sqlx::Result<Option<LiveSession>> {
    sqlx::query_as!(
        LiveSession,
        // display_name is a nullable column that the WHERE clause rules out.
        r#"SELECT s.token_hash, s.account_id, a.display_name AS "display_name!", a.roles, s.expires_at
         FROM sessions s JOIN accounts a USING (account_id)
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
           AND a.deactivated_at IS NULL AND a.display_name IS NOT NULL"#,
        token_hash,
    )
    .fetch_optional(conn)
    .await
}

/// Revokes one session; false when it was already revoked (or is unknown).
pub async fn revoke(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE sessions SET revoked_at = now()
         WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every live session of the account; returns how many.
pub async fn revoke_all(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        "UPDATE sessions SET revoked_at = now()
         WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
