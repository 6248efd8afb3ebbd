//! PostgreSQL: one pool per service, migrations embedded in the binary.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DatabaseConfig;

/// Migrations every service gets (the outbox table). They are tracked in their
/// own table so a service's migration history stays its own.
static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
const PLATFORM_MIGRATIONS_TABLE: &str = "_candor_platform_migrations";

/// Opens the pool with timeouts that fail fast instead of hanging a request.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(config.database_url.expose_secret())
        .context("DATABASE_URL is not a valid PostgreSQL URL")?
        .application_name("candor");
    PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(config.database_acquire_timeout_seconds))
        .idle_timeout(Duration::from_secs(600))
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL at DATABASE_URL")
}

/// Runs the platform's migrations, then the service's own.
pub async fn migrate(pool: &PgPool, service_migrations: &Migrator) -> anyhow::Result<()> {
    let mut platform = Migrator::with_migrations(PLATFORM_MIGRATIONS.iter().cloned().collect());
    platform.dangerous_set_table_name(PLATFORM_MIGRATIONS_TABLE);
    platform
        .run(pool)
        .await
        .context("running platform migrations (outbox, incident parking)")?;
    service_migrations
        .run(pool)
        .await
        .context("running service migrations")?;
    Ok(())
}

/// Maps PostgreSQL SQLSTATEs callers act on to a small enum, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintViolation {
    /// 23505: a unique constraint refused a duplicate.
    Unique,
    /// 23503: a foreign key refused a missing reference.
    ForeignKey,
    /// 23514: a check constraint refused a value.
    Check,
}

/// The constraint violation behind `error`, if it is one.
pub fn constraint_violation(error: &sqlx::Error) -> Option<(ConstraintViolation, Option<String>)> {
    let database_error = error.as_database_error()?;
    let kind = match database_error.code()?.as_ref() {
        "23505" => ConstraintViolation::Unique,
        "23503" => ConstraintViolation::ForeignKey,
        "23514" => ConstraintViolation::Check,
        _ => return None,
    };
    Some((kind, database_error.constraint().map(str::to_owned)))
}
