//! `candorctl incident status/report` when services cannot be reached: each
//! one is named, the command still answers, and the exit code says so.

use crate::{candorctl, text};

const NOWHERE: [(&str, &str); 4] = [
    ("ACCOUNT_GRPC_URL", "http://127.0.0.1:1"),
    ("NOTIFICATION_GRPC_URL", "http://127.0.0.1:1"),
    ("MEMBERSHIP_GRPC_URL", "http://127.0.0.1:1"),
    ("FORUM_GRPC_URL", "http://127.0.0.1:1"),
];

#[test]
fn status_names_every_unreachable_service_and_exits_2() {
    let output = candorctl(&["incident", "status", "some-incident"], &NOWHERE);
    assert_eq!(output.status.code(), Some(2));
    let stdout = text(&output.stdout);
    for channel in ["accounts", "emails", "credits", "forum thread"] {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(channel) && line.contains("unreachable")),
            "{channel} is reported unreachable: {stdout}"
        );
    }
}

#[test]
fn report_in_json_lists_the_unreachable_services() {
    let output = candorctl(
        &["incident", "report", "some-incident", "--format", "json"],
        &NOWHERE,
    );
    assert_eq!(output.status.code(), Some(2));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report is JSON");
    assert_eq!(report["incident_id"], "some-incident");
    let services: Vec<&str> = report["unreachable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["account", "notification", "membership", "forum"]);
}
