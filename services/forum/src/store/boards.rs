//! Boards (seeded by the migrations).

use sqlx::PgConnection;

#[derive(Debug, Clone)]
pub struct BoardRow {
    pub board_id: String,
    pub name: String,
    pub description: String,
    pub staff_only_threads: bool,
}

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<BoardRow>> {
    sqlx::query_as!(
        BoardRow,
        "SELECT board_id, name, description, staff_only_threads FROM boards ORDER BY display_order",
    )
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, board_id: &str) -> sqlx::Result<Option<BoardRow>> {
    sqlx::query_as!(
        BoardRow,
        "SELECT board_id, name, description, staff_only_threads FROM boards WHERE board_id = $1",
        board_id,
    )
    .fetch_optional(conn)
    .await
}
