//! The `grant_requests` table: GrantCredit's idempotency keys, the
//! fingerprint of the first request under each and the response it got.

use sqlx::PgConnection;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now held by this transaction.
    New,
    /// The key was used before (by a committed transaction).
    Used {
        fingerprint: Vec<u8>,
        response: Option<Vec<u8>>,
    },
}

/// Claims `key` for this transaction. A concurrent request with the same
/// key waits here until this transaction ends, then sees it as used.
pub async fn claim(conn: &mut PgConnection, key: &str, fingerprint: &[u8]) -> sqlx::Result<Claim> {
    let inserted = sqlx::query_scalar!(
        "INSERT INTO grant_requests (idempotency_key, fingerprint) VALUES ($1, $2) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        key,
        fingerprint,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::New);
    }
    let used = sqlx::query!(
        "SELECT fingerprint, response FROM grant_requests WHERE idempotency_key = $1",
        key,
    )
    .fetch_one(conn)
    .await?;
    Ok(Claim::Used {
        fingerprint: used.fingerprint,
        response: used.response,
    })
}

/// Stores the response of the request that claimed `key`.
pub async fn store_response(
    conn: &mut PgConnection,
    key: &str,
    response: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE grant_requests SET response = $2 WHERE idempotency_key = $1",
        key,
        response,
    )
    .execute(conn)
    .await?;
    Ok(())
}
