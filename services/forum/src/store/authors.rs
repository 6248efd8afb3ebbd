//! Authors: the display name last seen for each account that posted, the
//! per-member posting rate limit, and the erasure on deactivation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What happened when an author asked to post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingSlot {
    /// Recorded; the post may go ahead.
    Granted,
    /// Posted too recently: retry after this many whole seconds (>= 1).
    RateLimited { retry_after_seconds: u64 },
    /// The account was deactivated.
    Deactivated,
}

/// Records that `account_id` posts now, with its current name and role,
/// unless it posted less than `interval` ago (zero: no limit) or was
/// deactivated. Call inside the posting transaction: the row lock
/// serialises concurrent posts of one member.
pub async fn take_posting_slot(
    conn: &mut PgConnection,
    account_id: Uuid,
    display_name: &str,
    is_staff: bool,
    interval: Duration,
) -> sqlx::Result<PostingSlot> {
    let seconds = interval.as_secs_f64();
    let recorded = sqlx::query_scalar!(
        "INSERT INTO authors (account_id, display_name, is_staff, last_posted_at)
         VALUES ($1, $2, $3, clock_timestamp())
         ON CONFLICT (account_id) DO UPDATE
            SET display_name = EXCLUDED.display_name,
                is_staff = EXCLUDED.is_staff,
                last_posted_at = EXCLUDED.last_posted_at
            WHERE authors.deactivated_at IS NULL
              AND NOT authors.is_system
              AND (authors.last_posted_at IS NULL
                   OR authors.last_posted_at <= EXCLUDED.last_posted_at - make_interval(secs => $4))
         RETURNING account_id",
        account_id,
        display_name,
        is_staff,
        seconds,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if recorded.is_some() {
        return Ok(PostingSlot::Granted);
    }
    let author = sqlx::query!(
        r#"SELECT deactivated_at IS NOT NULL AS "deactivated!",
                EXTRACT(EPOCH FROM (last_posted_at + make_interval(secs => $2) - clock_timestamp()))::float8
                    AS retry_after
         FROM authors WHERE account_id = $1"#,
        account_id,
        seconds,
    )
    .fetch_one(&mut *conn)
    .await?;
    if author.deactivated {
        return Ok(PostingSlot::Deactivated);
    }
    let retry_after_seconds = author.retry_after.unwrap_or(1.0).ceil().max(1.0) as u64;
    Ok(PostingSlot::RateLimited {
        retry_after_seconds,
    })
}

/// Erases the display name of a deactivated account and marks it, so its
/// posts show "former member". Idempotent; the first deactivation time wins.
pub async fn deactivate(
    conn: &mut PgConnection,
    account_id: Uuid,
    deactivated_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO authors (account_id, display_name, deactivated_at)
         VALUES ($1, NULL, $2)
         ON CONFLICT (account_id) DO UPDATE
            SET display_name = NULL,
                deactivated_at = COALESCE(authors.deactivated_at, EXCLUDED.deactivated_at)
            WHERE NOT authors.is_system",
        account_id,
        deactivated_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
