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
    // The macro checks an array parameter against a Vec of non-null
    // elements; the arrays that hold NULLs say their type with a cast.
    sqlx::query_scalar!(
        "INSERT INTO accounts (account_id, email, display_name, joined_at, password_hash,
                               legacy_algorithm, legacy_salt, password_state)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                              $6::smallint[], $7::text[], $8::smallint[])
         ON CONFLICT DO NOTHING
         RETURNING account_id",
        &batch.account_ids,
        &batch.emails as &[Option<String>],
        &batch.display_names,
        &batch.joined_at,
        &batch.password_hashes as &[Option<String>],
        &batch.legacy_algorithms as &[Option<i16>],
        &batch.legacy_salts as &[Option<String>],
        &batch.password_states,
    )
    .fetch_all(conn)
    .await
}
