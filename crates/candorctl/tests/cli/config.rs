//! Connection settings: flags before or after the subcommand, a config file
//! with named contexts, precedence flag > environment > context > default,
//! and `config view` never showing a secret.

use crate::{TempDir, candorctl, text};

const TOKEN: &str = "operator-token-that-must-never-be-printed";
const BROKER_PASSWORD: &str = "broker-password-never-printed";

/// A config file with two contexts; `staging` is current.
fn config_dir() -> (TempDir, String) {
    let dir = TempDir::new("config");
    dir.write("operator_token", &format!("{TOKEN}\n"));
    let path = dir.write(
        "config.toml",
        &format!(
            r#"# the operator's contexts
current-context = "staging"

[contexts.staging]
account-grpc-url = "https://account.staging.example:50051"
amqp-url = "amqp://candor-operator:{BROKER_PASSWORD}@rabbit.staging.example:5672/%2f"
amqp-namespace = "staging"
operator-token-file = "operator_token"

[contexts.local]
account-grpc-url = "127.0.0.1:50061"
"#
        ),
    );
    (dir, path)
}

/// `config view -o json` as a map of setting → (value, origin).
fn view(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut all = vec!["config", "view", "-o", "json"];
    all.extend_from_slice(args);
    let output = candorctl(&all, env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        !stdout.contains(TOKEN),
        "the token is never shown: {stdout}"
    );
    assert!(
        !stdout.contains(BROKER_PASSWORD),
        "the password is never shown: {stdout}"
    );
    let view: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut settings = serde_json::Map::new();
    for setting in view["settings"].as_array().unwrap() {
        settings.insert(
            setting["setting"].as_str().unwrap().to_owned(),
            serde_json::json!([setting["value"], setting["origin"]]),
        );
    }
    serde_json::json!({"context": view["context"], "settings": settings})
}

#[test]
fn precedence_is_flag_then_environment_then_context_then_default() {
    let (_dir, path) = config_dir();
    let file = [("CANDOR_CONFIG", path.as_str())];
    let from_env = [
        ("CANDOR_CONFIG", path.as_str()),
        ("ACCOUNT_GRPC_URL", "http://from-env:1"),
    ];

    let context = view(&[], &file);
    assert_eq!(context["context"], "staging");
    let settings = &context["settings"];
    assert_eq!(
        settings["account_grpc_url"],
        serde_json::json!(["https://account.staging.example:50051", "context"])
    );
    assert_eq!(
        settings["notification_grpc_url"],
        serde_json::json!(["http://127.0.0.1:50052", "default"])
    );
    assert_eq!(
        settings["amqp_namespace"],
        serde_json::json!(["staging", "context"])
    );
    assert_eq!(
        settings["amqp_url"],
        serde_json::json!([
            "amqp://candor-operator:***@rabbit.staging.example:5672/%2f",
            "context"
        ])
    );
    assert_eq!(settings["operator_token"][1], "context");

    let environment = view(&[], &from_env);
    assert_eq!(
        environment["settings"]["account_grpc_url"],
        serde_json::json!(["http://from-env:1", "environment"])
    );
    let flag = view(&["--account-grpc-url", "http://from-flag:1"], &from_env);
    assert_eq!(
        flag["settings"]["account_grpc_url"],
        serde_json::json!(["http://from-flag:1", "flag"])
    );
    // --context picks another context; an address without a scheme is http.
    let local = view(&["--context", "local"], &file);
    assert_eq!(
        local["settings"]["account_grpc_url"],
        serde_json::json!(["http://127.0.0.1:50061", "context"])
    );
    assert_eq!(
        local["settings"]["amqp_namespace"],
        serde_json::json!(["candor", "default"])
    );
    // No config file: the defaults.
    let none = view(&[], &[]);
    assert_eq!(none["context"], serde_json::Value::Null);
    assert_eq!(
        none["settings"]["account_grpc_url"],
        serde_json::json!(["http://127.0.0.1:50051", "default"])
    );
}

#[test]
fn connection_flags_go_before_or_after_the_subcommand() {
    let before = candorctl(
        &[
            "--account-grpc-url",
            "http://127.0.0.1:1",
            "--context",
            "local",
            "config",
            "view",
        ],
        &[],
    );
    // No config file named: --context cannot be honoured, and says why.
    assert_eq!(before.status.code(), Some(64), "{}", text(&before.stdout));
    assert!(
        text(&before.stderr).contains("--context"),
        "{}",
        text(&before.stderr)
    );

    for args in [
        vec![
            "--account-grpc-url",
            "http://127.0.0.1:1",
            "health",
            "--timeout-seconds",
            "2",
        ],
        vec![
            "health",
            "--account-grpc-url",
            "http://127.0.0.1:1",
            "--timeout-seconds",
            "2",
        ],
    ] {
        let output = candorctl(&args, &[]);
        let stdout = text(&output.stdout);
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with("account") && line.contains("http://127.0.0.1:1")),
            "{args:?}: {stdout}{}",
            text(&output.stderr)
        );
    }
}

#[test]
fn contexts_are_listed_and_switched() {
    let (_dir, path) = config_dir();
    let env = [("CANDOR_CONFIG", path.as_str())];
    let listed = candorctl(&["config", "get-contexts"], &env);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let stdout = text(&listed.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with('*') && line.contains("staging")),
        "{stdout}"
    );
    assert!(!stdout.contains(BROKER_PASSWORD), "{stdout}");

    let switched = candorctl(&["config", "use-context", "local"], &env);
    assert!(switched.status.success(), "{}", text(&switched.stderr));
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        file.starts_with("# the operator's contexts\ncurrent-context = \"local\"\n"),
        "{file}"
    );
    assert_eq!(view(&[], &env)["context"], "local");

    let unknown = candorctl(&["config", "use-context", "prod"], &env);
    assert_eq!(unknown.status.code(), Some(64));
    let stderr = text(&unknown.stderr);
    assert!(
        stderr.contains(&path) && stderr.contains("\"prod\"") && stderr.contains("local, staging"),
        "{stderr}"
    );
}

#[test]
fn a_bad_config_file_names_the_file_the_line_and_the_key() {
    let dir = TempDir::new("config-bad");
    let path = dir.write(
        "config.toml",
        "current-context = \"a\"\n[contexts.a]\naccount-grpc-ulr = \"http://x\"\n",
    );
    let output = candorctl(&["health"], &[("CANDOR_CONFIG", path.as_str())]);
    assert_eq!(output.status.code(), Some(64));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("{path}:3:")), "{stderr}");
    assert!(stderr.contains("account-grpc-ulr"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one short line: {stderr}");

    let missing_token = dir.write(
        "missing.toml",
        "current-context = \"a\"\n[contexts.a]\noperator-token-file = \"nothing-here\"\n",
    );
    let output = candorctl(
        &["config", "view"],
        &[("CANDOR_CONFIG", missing_token.as_str())],
    );
    assert_eq!(output.status.code(), Some(64));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&missing_token) && stderr.contains("contexts.a.operator-token-file"),
        "{stderr}"
    );
}
