//! `candorctl incident status/report` when services cannot be reached: each
//! one is named, the command still answers, and the exit code says so.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

use crate::{NOWHERE, candorctl, text};

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

#[test]
fn status_in_json_and_yaml_has_snake_case_keys() {
    for format in ["json", "yaml"] {
        let output = candorctl(
            &["incident", "status", "some-incident", "-o", format],
            &NOWHERE,
        );
        assert_eq!(output.status.code(), Some(2));
        let status: serde_json::Value = if format == "json" {
            serde_json::from_slice(&output.stdout).expect("the status is JSON")
        } else {
            serde_yaml::from_slice(&output.stdout).expect("the status is YAML")
        };
        assert_eq!(status["incident_id"], "some-incident");
        assert_eq!(status["complete"], false);
        assert_eq!(status["unreachable"].as_array().unwrap().len(), 4);
    }
}

#[test]
fn errors_are_said_once_without_a_status_dump() {
    let output = candorctl(&["incident", "status", "some-incident"], &NOWHERE);
    let stdout = text(&output.stdout);
    let mut lines = stdout
        .lines()
        .skip_while(|line| !line.starts_with("accounts"));
    assert_eq!(
        lines.next().unwrap().trim_end(),
        "accounts      unreachable",
        "{stdout}"
    );
    let line = lines.next().unwrap().trim();
    assert!(
        line.starts_with("unavailable: ") && line.contains("Connection refused"),
        "{line}"
    );
    assert!(
        !line.contains("metadata") && !line.contains("MetadataMap"),
        "{line}"
    );
    for part in line.split(": ").collect::<Vec<_>>().windows(2) {
        assert_ne!(part[0], part[1], "said twice: {line}");
    }
}

#[test]
fn watching_fits_80_columns() {
    // Not a terminal: each refresh is printed whole, then a blank line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_candorctl"))
        .env_clear()
        .envs(NOWHERE)
        .args([
            "incident",
            "status",
            "some-incident",
            "--watch",
            "--interval-seconds",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut frames = 0;
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.is_empty() {
            frames += 1;
            if frames == 2 {
                break;
            }
            continue;
        }
        lines.push(line);
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(lines.len() >= 8, "two frames: {lines:#?}");
    for line in &lines {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
}
