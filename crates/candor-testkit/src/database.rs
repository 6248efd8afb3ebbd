//! A fresh PostgreSQL database per test, dropped when the test is done.

use anyhow::Context;
use candor_platform::config::DatabaseConfig;
use sqlx::{Connection, PgConnection, PgPool};

/// Server the test databases are created on.
pub const DATABASE_URL_VAR: &str = "CANDOR_TEST_DATABASE_URL";
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A uniquely named, empty database (`candor_test_<uuid>`) and a pool on it.
/// Dropping it drops the database (`WITH (FORCE)`, so open connections do
/// not keep it alive).
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
    pool: PgPool,
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url =
            std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let name = format!("candor_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("connecting to the test PostgreSQL ({DATABASE_URL_VAR})"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {name}"))?;
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        let pool = candor_platform::db::connect(&DatabaseConfig::from_url(&url)).await?;
        Ok(Self {
            name,
            url,
            admin_url,
            pool,
        })
    }

    /// Like [`TestDatabase::create`], with the platform migrations (the
    /// outbox) applied.
    pub async fn create_migrated() -> anyhow::Result<Self> {
        let database = Self::create().await?;
        let no_service_migrations = sqlx::migrate::Migrator::with_migrations(Vec::new());
        candor_platform::db::migrate(database.pool(), &no_service_migrations).await?;
        Ok(database)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configuration a service under test gets.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig::from_url(&self.url)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside a tokio runtime, where blocking on another
        // runtime panics: do the work on a thread with its own runtime.
        let dropper = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(_) => return,
            };
            runtime.block_on(async move {
                let Ok(mut admin) = PgConnection::connect(&admin_url).await else {
                    return;
                };
                let statement = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await
                {
                    tracing::warn!(database = %name, error = %error, "cannot drop test database");
                }
                admin.close().await.ok();
            });
        });
        let _ = dropper.join();
    }
}

/// `postgres://user@host:5432/postgres?opts` with the path replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |index| scheme_end + index);
    let mut result = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:1?sslmode=disable", "x"),
            "postgres://h:1/x?sslmode=disable"
        );
    }
}
