//! The `throttles` table: failure counters with growing blocks, and request
//! counters per window. Shared by replicas, so a client cannot spread its
//! guesses over them.

use sqlx::PgConnection;

/// Counted failures reset after an hour without a new window.
const WINDOW_SECONDS: f64 = 3600.0;
/// First block after the free failures, doubled with each further failure.
const FIRST_BLOCK_SECONDS: f64 = 15.0;
/// Longest block.
const MAX_BLOCK_SECONDS: f64 = 900.0;

/// Whole seconds until the longest block among `keys` ends, if any is blocked.
pub async fn blocked_for(conn: &mut PgConnection, keys: &[String]) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::bigint FROM throttles
         WHERE key = ANY($1) AND blocked_until > now()",
    )
    .bind(keys)
    .fetch_one(conn)
    .await
}

/// Counts one more hit in the key's window and returns the count.
async fn count_hit(conn: &mut PgConnection, key: &str) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "INSERT INTO throttles (key, window_started_at, hits) VALUES ($1, now(), 1)
         ON CONFLICT (key) DO UPDATE SET
             hits = CASE WHEN throttles.window_started_at < now() - make_interval(secs => $2)
                         THEN 1 ELSE throttles.hits + 1 END,
             window_started_at = CASE WHEN throttles.window_started_at < now() - make_interval(secs => $2)
                         THEN now() ELSE throttles.window_started_at END
         RETURNING hits",
    )
    .bind(key)
    .bind(WINDOW_SECONDS)
    .fetch_one(conn)
    .await
}

/// Records a failure; from the `free`-th failure on, each blocks the key for
/// a growing delay (15 s, 30 s, 60 s, … up to 15 minutes).
pub async fn record_failure(conn: &mut PgConnection, key: &str, free: u32) -> sqlx::Result<()> {
    let hits = count_hit(&mut *conn, key).await?;
    let over = i64::from(hits) - i64::from(free);
    if over >= 0 {
        let exponent = i32::try_from(over.min(10)).unwrap_or(10);
        let block = (FIRST_BLOCK_SECONDS * 2f64.powi(exponent)).min(MAX_BLOCK_SECONDS);
        sqlx::query(
            "UPDATE throttles SET blocked_until = now() + make_interval(secs => $2) WHERE key = $1",
        )
        .bind(key)
        .bind(block)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Counts a request; once more than `limit` arrived in the window, blocks
/// the key until the window ends and returns the seconds to wait.
pub async fn count_request(
    conn: &mut PgConnection,
    key: &str,
    limit: u32,
) -> sqlx::Result<Option<i64>> {
    if let Some(wait) = blocked_for(&mut *conn, &[key.to_owned()]).await? {
        return Ok(Some(wait));
    }
    let hits = count_hit(&mut *conn, key).await?;
    if i64::from(hits) <= i64::from(limit) {
        return Ok(None);
    }
    sqlx::query_scalar(
        "UPDATE throttles SET blocked_until = window_started_at + make_interval(secs => $2)
         WHERE key = $1
         RETURNING greatest(1, ceil(extract(epoch FROM blocked_until - now())))::bigint",
    )
    .bind(key)
    .bind(WINDOW_SECONDS)
    .fetch_optional(conn)
    .await
}

/// Forgets a key's failures (after a successful login).
pub async fn clear(conn: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM throttles WHERE key = $1")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
