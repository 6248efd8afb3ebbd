//! Bulk insertion of imported members: one statement per batch.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Column arrays of one batch of valid import records.
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub account_ids: Vec<Uuid>,
    pub emails: Vec<Option<String>>,
    pub display_names: Vec<String>,
    pub joined_at: Vec<DateTime<Utc>>,
    pub password_hashes: Vec<Option<String>>,
    pub legacy_algorithms: Vec<Option<i16>>,
    pub legacy_salts: Vec<Option<String>>,
    pub password_states: Vec<i16>,
}

impl ImportBatch {
    pub fn is_empty(&self) -> bool {
        self.account_ids.is_empty()
    }
}

/// Inserts the batch, skipping emails that already exist, and returns the
/// ids actually inserted.
pub async fn insert_batch(conn: &mut PgConnection, batch: &ImportBatch) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "INSERT INTO accounts (account_id, email, display_name, joined_at, password_hash,
                               legacy_algorithm, legacy_salt, password_state)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                              $6::smallint[], $7::text[], $8::smallint[])
         ON CONFLICT DO NOTHING
         RETURNING account_id",
    )
    .bind(&batch.account_ids)
    .bind(&batch.emails)
    .bind(&batch.display_names)
    .bind(&batch.joined_at)
    .bind(&batch.password_hashes)
    .bind(&batch.legacy_algorithms)
    .bind(&batch.legacy_salts)
    .bind(&batch.password_states)
    .fetch_all(conn)
    .await
}
