//! PostgreSQL access. Every function takes a `&mut PgConnection` so the
//! caller decides the transaction; bulk work is set-based.

pub mod claims;
pub mod deliveries;
pub mod incidents;
pub mod jobs;
pub mod kind;
pub mod progress;

pub use kind::JobKind;

/// Serialises work on one incident across transactions (recording it or
/// its thread, parking or inserting its batches), so a batch can never be parked after
/// the incident's recording looked for parked batches.
pub async fn lock_incident(
    connection: &mut sqlx::PgConnection,
    incident_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('candor-notification:' || $1))")
        .bind(incident_id)
        .execute(connection)
        .await?;
    Ok(())
}
