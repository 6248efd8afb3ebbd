//! Repository functions over `&mut PgConnection`: the caller owns the
//! transaction.

pub mod accounts;
pub mod import;
pub mod incident_list;
pub mod incident_threads;
pub mod incidents;
pub mod notices;
pub mod sessions;
pub mod throttles;
pub mod tokens;
