//! PostgreSQL access. Every function takes a `&mut PgConnection` so the
//! caller decides the transaction; bulk work is set-based. The one
//! exception, [`reports::record_delivery_report`], takes the pool: it is
//! the whole of recording a report, transaction included, for every way a
//! report arrives.

pub mod claims;
pub mod deliveries;
pub mod failures;
pub mod incidents;
pub mod jobs;
pub mod kind;
pub mod leases;
pub mod progress;
pub mod reports;
pub mod state;
pub mod undelivered;

pub use kind::JobKind;
pub use state::JobState;
