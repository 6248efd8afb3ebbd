//! candorctl as an operator runs it: the real binary, the real RabbitMQ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod breach_report;
mod dev_certs;
mod dev_secrets;
mod help;
mod incident;
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
