//! PostgreSQL access. Every function takes a `&mut PgConnection` so the
//! caller decides the transaction; bulk work is set-based.

pub mod claims;
pub mod deliveries;
pub mod failures;
pub mod incidents;
pub mod jobs;
pub mod kind;
pub mod leases;
pub mod progress;

pub use kind::JobKind;
