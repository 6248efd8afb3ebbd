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
    sqlx::query_scalar!(
        "SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::bigint FROM throttles
         WHERE key = ANY($1) AND blocked_until > now()",
        keys,
    )
    .fetch_one(conn)
    .await
}

/// Counts one more hit in the key's window and returns the count.
async fn count_hit(conn: &mut PgConnection, key: &str) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        "INSERT INTO throttles (key, window_started_at, hits) VALUES ($1, now(), 1)
         ON CONFLICT (key) DO UPDATE SET
             hits = CASE WHEN throttles.window_started_at < now() - make_interval(secs => $2)
                         THEN 1 ELSE throttles.hits + 1 END,
             window_started_at = CASE WHEN throttles.window_started_at < now() - make_interval(secs => $2)
                         THEN now() ELSE throttles.window_started_at END
         RETURNING hits",
        key,
        WINDOW_SECONDS,
    )
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
        sqlx::query!(
            "UPDATE throttles SET blocked_until = now() + make_interval(secs => $2) WHERE key = $1",
            key,
            block,
        )
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
    sqlx::query_scalar!(
        // blocked_until was just set from a NOT NULL column: never NULL.
        r#"UPDATE throttles SET blocked_until = window_started_at + make_interval(secs => $2)
         WHERE key = $1
         RETURNING greatest(1, ceil(extract(epoch FROM blocked_until - now())))::bigint AS "wait!""#,
        key,
        WINDOW_SECONDS,
    )
    .fetch_optional(conn)
    .await
}

/// Reserves one attempt on each key, atomically, before the password is
/// verified: one statement counts the attempt on every key that is not
/// blocked and answers whether any key was, so however many attempts arrive
/// at once, at most `free` of them are evaluated before the key is blocked.
/// The attempt that reaches `free` is still evaluated but blocks the key
/// (15 s, 30 s, … up to 15 minutes) for the next ones; a successful attempt
/// gives its reservation back ([`release`], or [`clear`] for the account).
///
/// Returns the whole seconds to wait when a key was blocked (the attempt
/// must not go on), `None` when it may.
pub async fn reserve_attempt(
    conn: &mut PgConnection,
    keys: &[(String, u32)],
) -> sqlx::Result<Option<i64>> {
    let (names, free): (Vec<&str>, Vec<i32>) = keys
        .iter()
        .map(|(key, free)| (key.as_str(), i32::try_from(*free).unwrap_or(i32::MAX)))
        .unzip();
    sqlx::query_scalar!(
        "WITH input AS (
             SELECT * FROM unnest($1::text[], $2::int4[]) AS i(key, free)
         ), blocked AS (
             -- An attempt refused on one key counts on none: a blocked
             -- address must not keep an account blocked, nor the reverse.
             SELECT max(blocked_until) AS until FROM throttles
             WHERE key = ANY($1) AND blocked_until > now()
         ), reserved AS (
             -- Under concurrency `blocked` may miss a block committed after
             -- this statement began; the upsert waits for that row's lock
             -- and re-reads it, so `refused` still sees the block.
             INSERT INTO throttles AS t (key, window_started_at, hits, blocked_until, refused)
             SELECT key, now(), 1,
                    CASE WHEN free <= 1 THEN now() + make_interval(secs => $4) END,
                    false
             FROM input
             WHERE (SELECT until FROM blocked) IS NULL
             ON CONFLICT (key) DO UPDATE SET
                 refused = coalesce(t.blocked_until > now(), false),
                 hits = CASE
                     WHEN t.blocked_until > now() THEN t.hits
                     WHEN t.window_started_at < now() - make_interval(secs => $3) THEN 1
                     ELSE t.hits + 1 END,
                 window_started_at = CASE
                     WHEN t.blocked_until > now() THEN t.window_started_at
                     WHEN t.window_started_at < now() - make_interval(secs => $3) THEN now()
                     ELSE t.window_started_at END,
                 blocked_until = CASE
                     WHEN t.blocked_until > now() THEN t.blocked_until
                     WHEN (CASE WHEN t.window_started_at < now() - make_interval(secs => $3)
                                THEN 1 ELSE t.hits + 1 END)
                          >= (SELECT free FROM input WHERE input.key = t.key)
                     THEN now() + make_interval(secs => least($5, $4 * power(2, least(10,
                          (CASE WHEN t.window_started_at < now() - make_interval(secs => $3)
                                THEN 1 ELSE t.hits + 1 END)
                          - (SELECT free FROM input WHERE input.key = t.key)))))
                     ELSE NULL END
             RETURNING t.refused, t.blocked_until
         )
         SELECT ceil(extract(epoch FROM coalesce(
                    (SELECT until FROM blocked),
                    (SELECT max(blocked_until) FROM reserved WHERE refused)
                ) - now()))::bigint",
        // Borrowed names: the macro's check expects owned Strings for text[].
        &names as &[&str],
        &free,
        WINDOW_SECONDS,
        FIRST_BLOCK_SECONDS,
        MAX_BLOCK_SECONDS,
    )
    .fetch_one(conn)
    .await
    .map(|wait| wait.map(|seconds| seconds.max(1)))
}

/// Gives back the reservation of an attempt that succeeded on a key other
/// callers share (a client address), lifting the block it started.
pub async fn release(conn: &mut PgConnection, key: &str, free: u32) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE throttles SET
             hits = greatest(hits - 1, 0),
             blocked_until = CASE WHEN hits - 1 < $2 THEN NULL ELSE blocked_until END
         WHERE key = $1 AND NOT refused",
        key,
        i32::try_from(free).unwrap_or(i32::MAX),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a key's failures (after a successful login).
pub async fn clear(conn: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM throttles WHERE key = $1", key)
        .execute(conn)
        .await?;
    Ok(())
}
