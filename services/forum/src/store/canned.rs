//! Canned staff replies (seeded by the migrations).

use sqlx::PgConnection;

#[derive(Debug, Clone)]
pub struct CannedReplyRow {
    pub canned_reply_id: String,
    pub title: String,
    pub body_template: String,
}

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<CannedReplyRow>> {
    sqlx::query_as!(
        CannedReplyRow,
        "SELECT canned_reply_id, title, body_template FROM canned_replies ORDER BY canned_reply_id",
    )
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    canned_reply_id: &str,
) -> sqlx::Result<Option<CannedReplyRow>> {
    sqlx::query_as!(
        CannedReplyRow,
        "SELECT canned_reply_id, title, body_template FROM canned_replies WHERE canned_reply_id = $1",
        canned_reply_id,
    )
    .fetch_optional(conn)
    .await
}
