//! `candorctl dev-secrets` writes every secret compose needs, keeps them
//! across runs, uses the ones an operator supplied, and gives each service
//! only the callers' tokens its permission rows admit.

use std::path::{Path, PathBuf};

use crate::{candorctl, text};

/// A fresh directory, removed on drop.
struct Directory(PathBuf);

impl Directory {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("candorctl-dev-secrets-{}", uuid::Uuid::new_v4())))
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.0.join(relative))
            .unwrap_or_else(|error| panic!("reading {relative}: {error}"))
    }

    fn run(&self) -> String {
        let dir = self.0.display().to_string();
        let output = candorctl(&["dev-secrets", "--dir", &dir], &[]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_are_generated_once_and_kept() {
    let dir = Directory::new();
    let first = dir.run();
    assert!(first.contains("new"), "{first}");
    let token = dir.read("account/service_token");
    assert_eq!(token.len(), 64, "32 random bytes as hex");
    let database_url = dir.read("account/database_url");
    assert!(
        database_url.starts_with("postgres://candor_account:")
            && database_url.ends_with("@postgres:5432/candor_account"),
        "{database_url}"
    );
    assert_eq!(
        mode(&dir.0.join("base")),
        0o700,
        "the generated secrets stay private"
    );
    assert_eq!(mode(&dir.0.join("base/operator_token")), 0o600);

    let second = dir.run();
    assert!(second.contains("(0 new)"), "{second}");
    assert_eq!(
        dir.read("account/service_token"),
        token,
        "a restart keeps the secrets"
    );
    assert_eq!(dir.read("account/database_url"), database_url);
}

#[test]
fn a_secret_the_operator_supplied_is_used() {
    let dir = Directory::new();
    std::fs::create_dir_all(dir.0.join("base")).unwrap();
    std::fs::write(
        dir.0.join("base/operator_token"),
        "operator-supplied-token-0123456789\n",
    )
    .unwrap();
    dir.run();
    assert_eq!(
        dir.read("operator/operator_token"),
        "operator-supplied-token-0123456789"
    );
    assert_eq!(
        dir.read("forum/operator_token"),
        "operator-supplied-token-0123456789"
    );
}

#[test]
fn a_weak_supplied_secret_is_refused_naming_the_file() {
    let dir = Directory::new();
    std::fs::create_dir_all(dir.0.join("base")).unwrap();
    std::fs::write(dir.0.join("base/operator_token"), "short").unwrap();
    let path = dir.0.display().to_string();
    let output = candorctl(&["dev-secrets", "--dir", &path], &[]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("operator_token"), "{stderr}");
    assert!(!stderr.contains("short"), "the secret leaked: {stderr}");
}

#[test]
fn each_service_holds_only_the_tokens_of_the_callers_it_serves() {
    let dir = Directory::new();
    dir.run();
    let account_token = dir.read("account/service_token");
    let forum_token = dir.read("forum/service_token");
    // SendEmail is for account alone: notification knows no other service.
    let notification_callers = dir.read("notification/caller_tokens");
    assert!(
        notification_callers.contains(&format!("account={account_token}")),
        "{notification_callers}"
    );
    assert!(!notification_callers.contains(&forum_token));
    assert!(!notification_callers.contains("frontend="));
    // ValidateSession is for forum, membership and front ends.
    let account_callers = dir.read("account/caller_tokens");
    assert!(account_callers.contains(&format!("forum={forum_token}")));
    assert!(account_callers.contains("membership="));
    assert!(account_callers.contains("frontend="));
    assert!(
        !account_callers.contains(&account_token),
        "no service holds its own token as a caller"
    );
}

#[test]
fn the_broker_definitions_give_every_service_its_own_user() {
    let dir = Directory::new();
    dir.run();
    let definitions: serde_json::Value =
        serde_json::from_str(&dir.read("rabbitmq/definitions.json")).unwrap();
    let users: Vec<&str> = definitions["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["name"].as_str().unwrap())
        .collect();
    for expected in [
        "candor-account",
        "candor-notification",
        "candor-membership",
        "candor-forum",
        "candor-operator",
        "candor-admin",
    ] {
        assert!(users.contains(&expected), "{expected} in {users:?}");
    }
    assert!(!users.contains(&"guest"));
    let text = dir.read("rabbitmq/definitions.json");
    for service in ["account", "notification", "membership", "forum"] {
        let amqp_url = dir.read(&format!("{service}/amqp_url"));
        let password = amqp_url
            .split_once(':')
            .and_then(|(_, rest)| rest.split_once(':'))
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(password, _)| password)
            .unwrap();
        assert!(
            !text.contains(password),
            "definitions hold password hashes, never a password"
        );
    }
}

/// The names of the files directly in `relative`.
fn files_in(dir: &Directory, relative: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.0.join(relative))
        .unwrap_or_else(|error| panic!("listing {relative}: {error}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn monitoring_gets_its_own_secrets_and_only_those() {
    let dir = Directory::new();
    dir.run();
    // Grafana's admin password, which the operator logs in with.
    assert_eq!(files_in(&dir, "grafana"), ["admin_password"]);
    let grafana = dir.read("grafana/admin_password");
    assert_eq!(grafana.len(), 64, "32 random bytes as hex");
    assert_eq!(dir.read("operator/grafana_admin_password"), grafana);
    assert_ne!(grafana, dir.read("operator/rabbitmq_admin_password"));
    // The monitoring role: init-databases.sh creates it with the password
    // postgres-exporter logs in with; the exporter sees nothing else.
    assert_eq!(files_in(&dir, "postgres-exporter"), ["database_password"]);
    let monitoring = dir.read("postgres-exporter/database_password");
    assert_eq!(dir.read("postgres/monitoring_password"), monitoring);
    for other in ["postgres/postgres_password", "postgres/account_password"] {
        assert_ne!(dir.read(other), monitoring, "{other}");
    }
    let second = dir.run();
    assert!(second.contains("(0 new)"), "{second}");
    assert_eq!(
        dir.read("grafana/admin_password"),
        grafana,
        "a restart keeps it"
    );
}
