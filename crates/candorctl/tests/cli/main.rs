//! candorctl as an operator runs it: the real binary, the real RabbitMQ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod breach_report;
mod config;
mod dead_letters;
mod dev_certs;
mod dev_secrets;
mod duplicates;
mod health;
mod help;
mod incident;
mod incident_outcome;
mod regulator;
mod send_test;
mod terminal;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The candorctl binary with only the given environment (nothing inherited
/// but PATH), so a developer's variables cannot change the outcome.
fn candorctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_candorctl"));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied()).args(args);
    command.output().expect("candorctl runs")
}

/// candorctl's settings for `stack`, as an operator exports them.
fn stack_env(stack: &candor_e2e::stack::Stack) -> Vec<(&'static str, String)> {
    let endpoints = &stack.endpoints;
    vec![
        ("AMQP_URL", endpoints.amqp_url.clone()),
        ("AMQP_NAMESPACE", endpoints.amqp_namespace.clone()),
        ("ACCOUNT_GRPC_URL", endpoints.account_grpc_url.clone()),
        (
            "NOTIFICATION_GRPC_URL",
            endpoints.notification_grpc_url.clone(),
        ),
        ("MEMBERSHIP_GRPC_URL", endpoints.membership_grpc_url.clone()),
        ("FORUM_GRPC_URL", endpoints.forum_grpc_url.clone()),
        (
            "OPERATOR_TOKEN",
            endpoints.operator_token.clone().unwrap_or_default(),
        ),
    ]
}

/// Runs candorctl off the runtime's thread: in-process services run on it
/// and must answer meanwhile.
async fn candorctl_off_runtime(args: &[&str], env: &[(&'static str, String)]) -> Output {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        candorctl(&args, &env)
    })
    .await
    .unwrap()
}

fn repo_path(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
        .to_string_lossy()
        .into_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// candorctl on a pseudo-terminal (through `script`), as a person runs it:
/// what it printed, terminal escapes included.
fn candorctl_on_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "'\\''"));
    let mut line = quote(env!("CARGO_BIN_EXE_candorctl"));
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let mut command = Command::new("script");
    command.env_clear().args(["-qec", &line, "/dev/null"]);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.env("TERM", "xterm");
    command.envs(env.iter().copied());
    let output = command.output().expect("script runs");
    text(&output.stdout)
}

/// Services nowhere: every gRPC URL refuses connections.
const NOWHERE: [(&str, &str); 4] = [
    ("ACCOUNT_GRPC_URL", "http://127.0.0.1:1"),
    ("NOTIFICATION_GRPC_URL", "http://127.0.0.1:1"),
    ("MEMBERSHIP_GRPC_URL", "http://127.0.0.1:1"),
    ("FORUM_GRPC_URL", "http://127.0.0.1:1"),
];

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("candorctl-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, relative: &str, content: &str) -> String {
        let path = self.0.join(relative);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
