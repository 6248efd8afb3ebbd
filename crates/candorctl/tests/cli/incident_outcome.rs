//! `candorctl incident status / report / retry-failed / list` against the
//! four real services (in-process, real PostgreSQL and RabbitMQ, the testkit
//! SMTP sink behind a proxy this test cuts): failed emails are never
//! "complete", they are listed, and once the SMTP server is back
//! `retry-failed` sends them and the incident completes. An incident no
//! service knows is named as such.

use std::process::Output;

use candor_e2e::stack::{Stack, StackOptions};
use candor_testkit::proxy::TcpProxy;
use candor_testkit::smtp::SmtpSink;

use crate::{candorctl_off_runtime as run, repo_path, stack_env, text};

const INCIDENT: &str = "cli-smtp-outage";

/// `incident status ID --watch`, refreshing every second.
async fn watch(incident_id: &str, env: &[(&'static str, String)]) -> Output {
    run(
        &[
            "incident",
            "status",
            incident_id,
            "--watch",
            "--interval-seconds",
            "1",
        ],
        env,
    )
    .await
}

/// The last frame's emails bar line and the counts line below it.
fn last_email_lines(stdout: &str) -> (String, String) {
    let lines: Vec<&str> = stdout.lines().collect();
    let bar = lines
        .iter()
        .rposition(|line| line.starts_with("emails"))
        .expect("an emails line");
    (
        lines[bar].trim_end().to_owned(),
        format!(
            " {}",
            lines.get(bar + 1).copied().unwrap_or_default().trim()
        ),
    )
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_emails_finish_with_failures_until_retried_then_the_incident_completes() {
    candor_testkit::tracing::init();
    let sink = SmtpSink::start().unwrap();
    let proxy = TcpProxy::start(sink.addr()).await.unwrap();
    proxy.cut();
    let stack = Stack::in_process_with(StackOptions {
        smtp: Some(sink.clone()),
        smtp_url: Some(format!("smtp://{}", proxy.address())),
        notification_flags: vec![
            "--send-max-attempts=2".to_owned(),
            "--send-retry-initial-ms=50".to_owned(),
            "--send-retry-max-ms=100".to_owned(),
            "--smtp-probe-interval-seconds=1".to_owned(),
        ],
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let env = stack_env(&stack);

    let seeded = run(&["seed", "--accounts", "12"], &env).await;
    assert!(seeded.status.success(), "{}", show(&seeded));
    let reported = run(
        &[
            "breach",
            "report",
            "--file",
            &repo_path("deploy/examples/breach.toml"),
            "--incident-id",
            INCIDENT,
            "--yes",
        ],
        &env,
    )
    .await;
    assert!(reported.status.success(), "{}", show(&reported));

    // Every email fails while the SMTP server is unreachable: the watch
    // ends when everything settled, with failures, never "complete".
    let watched = watch(INCIDENT, &env).await;
    let stdout = text(&watched.stdout);
    assert_eq!(watched.status.code(), Some(1), "{}", show(&watched));
    assert!(
        stdout.contains(&format!("incident {INCIDENT} finished with failures")),
        "{}",
        show(&watched)
    );
    assert!(
        !stdout
            .lines()
            .any(|line| line.starts_with("emails") && line.contains("complete")),
        "{stdout}"
    );
    let (email_bar, email_counts) = last_email_lines(&stdout);
    assert!(
        email_bar.ends_with("finished with failures") && email_counts.contains(" 0 delivered,"),
        "{email_bar}\n{email_counts}"
    );
    assert!(
        stdout.contains("retries_exhausted (retryable): gave up after 2 attempts"),
        "the failures are grouped with their reason: {stdout}"
    );
    assert!(
        stdout.contains(&format!("candorctl incident retry-failed {INCIDENT}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("@members.candor.example") && stdout.contains("2 attempts"),
        "the first failed deliveries are listed: {stdout}"
    );
    assert!(!stdout.contains("OPERATOR") && !stdout.contains("amqp://"));

    let report = run(&["incident", "report", INCIDENT, "--format", "json"], &env).await;
    assert_eq!(report.status.code(), Some(1), "{}", show(&report));
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["outcome"], "finished_with_failures");
    let failed = json["emails"]["failed"].as_u64().unwrap();
    assert!(failed > 0);
    assert_eq!(json["emails"]["sent"], 0);
    assert_eq!(json["emails"]["failed_retryable"].as_u64(), Some(failed));
    assert_eq!(json["failure_groups"][0]["class"], "retries_exhausted");
    assert_eq!(json["failure_groups"][0]["retryable"], true);
    assert_eq!(json["failures"].as_array().unwrap().len() as u64, failed);
    let markdown = run(&["incident", "report", INCIDENT], &env).await;
    assert_eq!(markdown.status.code(), Some(1));
    assert!(
        text(&markdown.stdout).contains(&format!(
            "Outcome: **finished with failures ({failed} emails failed)**"
        )),
        "{}",
        show(&markdown)
    );

    // The SMTP server is back: retry-failed sends them, and the incident
    // completes.
    proxy.restore();
    let retried = run(&["incident", "retry-failed", INCIDENT], &env).await;
    assert!(retried.status.success(), "{}", show(&retried));
    assert!(
        text(&retried.stdout).contains(&format!(
            "{failed} failed emails of incident {INCIDENT} queued again"
        )),
        "{}",
        show(&retried)
    );
    let watched = watch(INCIDENT, &env).await;
    assert_eq!(watched.status.code(), Some(0), "{}", show(&watched));
    let watched_text = text(&watched.stdout);
    let (email_bar, email_counts) = last_email_lines(&watched_text);
    assert!(
        email_bar.contains(&format!("{failed}/{failed}"))
            && email_bar.ends_with("done")
            && email_counts.contains(&format!(" {failed} delivered, 0 failed")),
        "{email_bar}\n{email_counts}"
    );
    assert_eq!(sink.message_count() as u64, failed);
    let report = run(&["incident", "report", INCIDENT, "--format", "json"], &env).await;
    assert_eq!(report.status.code(), Some(0), "{}", show(&report));

    let listed = run(&["incident", "list"], &env).await;
    assert!(listed.status.success(), "{}", show(&listed));
    let table = text(&listed.stdout);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("INCIDENT"), "{table}");
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(INCIDENT)
            && row.contains("complete")
            && row.ends_with("Member email addresses and password hashes were stolen"),
        "{table}"
    );
    let listed = run(&["incident", "list", "--format", "json"], &env).await;
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json[0]["incident_id"], INCIDENT);
    assert_eq!(json[0]["enumeration"], "complete");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incident_no_service_recorded_is_named_not_known() {
    candor_testkit::tracing::init();
    let stack = Stack::in_process().await.unwrap();
    let env = stack_env(&stack);

    let status = run(&["incident", "status", "never-reported"], &env).await;
    assert_eq!(status.status.code(), Some(1), "{}", show(&status));
    let stdout = text(&status.stdout);
    for (channel, service) in [
        ("accounts", "account"),
        ("emails", "notification"),
        ("credits", "membership"),
        ("forum thread", "forum"),
    ] {
        assert!(
            stdout.lines().any(|line| line.starts_with(channel)
                && line.ends_with(&format!(
                    "incident never-reported is not known to {service}"
                ))),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("not recorded yet"), "{stdout}");

    // A watch waits a bounded time for the incident to be recorded.
    let watched = run(
        &[
            "incident",
            "status",
            "never-reported",
            "--watch",
            "--interval-seconds",
            "1",
            "--record-timeout-seconds",
            "2",
        ],
        &env,
    )
    .await;
    assert_eq!(watched.status.code(), Some(1), "{}", show(&watched));
    assert!(
        text(&watched.stderr).contains(
            "incident never-reported is not known to account, notification, membership, forum after waiting 2 s"
        ),
        "{}",
        show(&watched)
    );

    let report = run(
        &["incident", "report", "never-reported", "--format", "json"],
        &env,
    )
    .await;
    assert_eq!(report.status.code(), Some(1), "{}", show(&report));
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(json["outcome"], "not_known");
    assert_eq!(json["accounts"], serde_json::Value::Null);

    let retried = run(&["incident", "retry-failed", "never-reported"], &env).await;
    assert_eq!(retried.status.code(), Some(1), "{}", show(&retried));
    assert!(
        text(&retried.stderr).contains("incident never-reported is not known to notification"),
        "{}",
        show(&retried)
    );

    let listed = run(&["incident", "list"], &env).await;
    assert!(listed.status.success(), "{}", show(&listed));
    assert_eq!(text(&listed.stdout).trim(), "no incidents recorded");
    stack.stop().await.unwrap();
}
