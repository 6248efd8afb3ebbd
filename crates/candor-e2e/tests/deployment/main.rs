//! The deployment files and the README agree with the code: every variable
//! docker compose sets is one the service accepts, every required one is set,
//! ports and healthchecks line up, every service can be scaled, the
//! Kubernetes manifests say what compose says, the monitoring files match
//! compose and the metrics, and the README documents every setting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compose;
mod compose_cluster;
mod compose_scale;
mod compose_tls;
mod kubernetes;
mod monitoring;
mod monitoring_rules;
mod postgres_init;
mod rabbitmq;
mod readme;

use std::path::PathBuf;

/// The repository root (two levels above this crate).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full)
        .unwrap_or_else(|error| panic!("reading {}: {error}", full.display()))
}
