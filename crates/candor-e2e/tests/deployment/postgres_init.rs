//! `deploy/postgres/init-databases.sh` and `monitoring-role.sh`, run against
//! the real PostgreSQL: each service's role owns its own database, may not
//! connect to another service's, and is no superuser; the monitoring role
//! reads the server's statistics and no service's database.

use std::path::Path;

use std::process::{Command, Output};

use crate::repo_root;

/// The server the tests use (scripts/test sets it), as a psql connection URI.
fn admin_url() -> String {
    std::env::var("CANDOR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `host` and `port` of a `postgres://user[:password]@host:port/db` URI.
fn host_and_port(url: &str) -> (String, String) {
    let authority = url
        .split_once('@')
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:5432");
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.to_owned()),
        None => (authority.to_owned(), "5432".to_owned()),
    }
}

fn psql(url: &str, sql: &str) -> Output {
    Command::new("psql")
        .args([
            "--no-psqlrc",
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .arg(url)
        .arg("-c")
        .arg(sql)
        .output()
        .expect("psql runs")
}

/// Drops what one run of the script created, whatever the test's outcome.
struct CreatedDatabases {
    prefix: String,
}

impl Drop for CreatedDatabases {
    fn drop(&mut self) {
        for service in ["account", "notification", "membership", "forum"] {
            let name = format!("{}_{service}", self.prefix);
            let _ = psql(
                &admin_url(),
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
            let _ = psql(&admin_url(), &format!("DROP ROLE IF EXISTS \"{name}\""));
        }
        let monitoring = format!("{}_monitoring", self.prefix);
        let _ = psql(
            &admin_url(),
            &format!("DROP ROLE IF EXISTS \"{monitoring}\""),
        );
    }
}

/// Runs `deploy/postgres/<script>` as the postgres image would, against the
/// test server, with the passwords in `secrets` and roles named `prefix_*`.
fn run_script(script: &str, secrets: &Path, prefix: &str) -> Output {
    let (host, port) = host_and_port(&admin_url());
    let run = Command::new(repo_root().join("deploy/postgres").join(script))
        .env("CANDOR_SECRETS_DIR", secrets)
        .env("CANDOR_DATABASE_PREFIX", prefix)
        .env("PGHOST", host)
        .env("PGPORT", port)
        .env("POSTGRES_USER", "postgres")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

#[test]
fn each_service_role_owns_only_its_own_database_and_is_no_superuser() {
    let prefix = format!("candor_init_{}", uuid::Uuid::new_v4().simple());
    let created = CreatedDatabases {
        prefix: prefix.clone(),
    };
    let secrets = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&secrets).unwrap();
    for service in ["account", "notification", "membership", "forum"] {
        std::fs::write(
            secrets.join(format!("{service}_password")),
            format!("password-of-{service}-{}\n", uuid::Uuid::new_v4()),
        )
        .unwrap();
    }
    let admin = admin_url();
    run_script("init-databases.sh", &secrets, &prefix);
    let _ = std::fs::remove_dir_all(&secrets);

    let account = format!("{prefix}_account");
    let role = psql(
        &admin,
        &format!(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = '{account}'"
        ),
    );
    assert_eq!(String::from_utf8_lossy(&role.stdout).trim(), "f|f|f");
    let owner = psql(
        &admin,
        &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{account}'"),
    );
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), account);

    // Logging in as the account role (the test server trusts local logins,
    // so the password is not what is checked here; CONNECT is).
    let own = psql(
        &user_url(&admin, &account, &account),
        "CREATE TABLE migrations_can_run (id int); SELECT current_user",
    );
    assert!(
        own.status.success(),
        "the role uses its own database: {}",
        String::from_utf8_lossy(&own.stderr)
    );
    let forum = format!("{prefix}_forum");
    let other = psql(&user_url(&admin, &account, &forum), "SELECT 1");
    assert!(
        !other.status.success(),
        "the account role reached the forum database"
    );
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("permission denied"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    drop(created);
}

/// `admin` with the user and database replaced (no password: the roles'
/// passwords are not what the test server checks).
fn user_url(admin: &str, user: &str, database: &str) -> String {
    let (host, port) = host_and_port(admin);
    format!("postgres://{user}@{host}:{port}/{database}")
}

#[test]
fn the_monitoring_role_reads_the_statistics_and_no_service_database_and_can_be_made_again() {
    let prefix = format!("candor_init_{}", uuid::Uuid::new_v4().simple());
    let created = CreatedDatabases {
        prefix: prefix.clone(),
    };
    let secrets = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&secrets).unwrap();
    for service in [
        "account",
        "notification",
        "membership",
        "forum",
        "monitoring",
    ] {
        std::fs::write(
            secrets.join(format!("{service}_password")),
            format!("password-of-{service}-{}\n", uuid::Uuid::new_v4()),
        )
        .unwrap();
    }
    run_script("init-databases.sh", &secrets, &prefix);
    run_script("monitoring-role.sh", &secrets, &prefix);

    let admin = admin_url();
    let monitoring = format!("{prefix}_monitoring");
    let attributes = format!(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, \
         pg_has_role('{monitoring}', 'pg_monitor', 'member'), \
         (SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '{monitoring}') \
         FROM pg_roles WHERE rolname = '{monitoring}'"
    );
    let role = psql(&admin, &attributes);
    assert_eq!(
        String::from_utf8_lossy(&role.stdout).trim(),
        "f|f|f|t|t|1",
        "a login role in pg_monitor and no other role"
    );
    let statistics = psql(
        &user_url(&admin, &monitoring, "postgres"),
        "SELECT count(*) FROM pg_stat_activity WHERE query IS NOT NULL",
    );
    assert!(
        statistics.status.success(),
        "the monitoring role reads the server's statistics: {}",
        String::from_utf8_lossy(&statistics.stderr)
    );
    let account = format!("{prefix}_account");
    let service_database = psql(&user_url(&admin, &monitoring, &account), "SELECT 1");
    assert!(
        !service_database.status.success(),
        "the monitoring role reached the account database"
    );
    assert!(
        String::from_utf8_lossy(&service_database.stderr).contains("permission denied"),
        "{}",
        String::from_utf8_lossy(&service_database.stderr)
    );

    // Run again (a volume from before monitoring, or a new secret): the role
    // stays as it was, with the current password.
    let password_hash = format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{monitoring}'");
    let before = psql(&admin, &password_hash).stdout;
    std::fs::write(
        secrets.join("monitoring_password"),
        format!("another-password-{}\n", uuid::Uuid::new_v4()),
    )
    .unwrap();
    run_script("monitoring-role.sh", &secrets, &prefix);
    let _ = std::fs::remove_dir_all(&secrets);
    assert_eq!(
        String::from_utf8_lossy(&psql(&admin, &attributes).stdout).trim(),
        "f|f|f|t|t|1"
    );
    let after = psql(&admin, &password_hash).stdout;
    assert!(
        !after.is_empty() && after != before,
        "the password follows the secret"
    );
    drop(created);
}
