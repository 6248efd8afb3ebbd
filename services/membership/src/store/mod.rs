//! PostgreSQL access. Every function takes `&mut PgConnection` so the caller
//! owns the transaction; all SQL is runtime-checked (no offline data).

pub mod compensation;
pub mod credits;
pub mod grants;
pub mod incidents;
pub mod memberships;
