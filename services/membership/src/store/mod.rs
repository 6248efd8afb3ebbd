//! PostgreSQL access. Every function takes `&mut PgConnection` so the caller
//! owns the transaction. Every query is checked at compile time against
//! the membership schema (or `.sqlx/` offline).

pub mod compensation;
pub mod credits;
pub mod grants;
pub mod incidents;
pub mod memberships;
