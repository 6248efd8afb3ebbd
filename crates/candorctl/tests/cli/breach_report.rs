//! `candorctl breach report`: validation names the field and line; before
//! publishing, the operator's credential is checked and a changed re-report
//! refused with the difference; a prompt shows the consequences; after
//! publishing, every service's answer is shown and decides the exit code.
//! The real binary against the four real services (candor-e2e's stack).

use std::time::{Duration, SystemTime};

use candor_e2e::stack::Stack;
use candor_proto::account::v1::GetIncidentRequest;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_testkit::poll::eventually;
use candorctl::commands::breach;
use candorctl::commands::incident::progress::IncidentSnapshot;
use candorctl::notice::{self, NoticeFlags};

use crate::terminal::AtTerminal;
use crate::{candorctl, candorctl_off_runtime as run, repo_path, stack_env, text};

const EXAMPLE: &str = "deploy/examples/breach.toml";
const EXAMPLE_ID: &str = "2025-05-member-backup";
const EXAMPLE_TITLE: &str = "Member email addresses and password hashes were stolen";
const SERVICES: [&str; 4] = ["account", "notification", "membership", "forum"];

/// A fresh stack and candorctl's settings for it.
async fn started() -> (Stack, Vec<(&'static str, String)>) {
    let stack = Stack::in_process().await.unwrap();
    let env = stack_env(&stack);
    (stack, env)
}

/// `breach report --yes` of the example as `incident_id`, then `extra`.
fn report_args<'a>(example: &'a str, incident_id: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "breach",
        "report",
        "--file",
        example,
        "--incident-id",
        incident_id,
        "--yes",
    ];
    args.extend_from_slice(extra);
    args
}

/// `env` with `name` set to `value` (or removed with `None`).
fn with(
    env: &[(&'static str, String)],
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut env: Vec<_> = env.iter().filter(|(n, _)| *n != name).cloned().collect();
    if let Some(value) = value {
        env.push((name, value.to_owned()));
    }
    env
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

/// Writes `notice` to a temporary file and returns its path.
fn notice_file(name: &str, notice: &str) -> String {
    let path = std::env::temp_dir().join(format!("candorctl-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, notice).unwrap();
    path.to_string_lossy().into_owned()
}

/// The line of `stdout` answering for `service`.
fn answer_line<'a>(stdout: &'a str, service: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.split_whitespace().next() == Some(service))
        .unwrap_or_else(|| panic!("no answer from {service} in: {stdout}"))
}

/// The incident as the account service recorded it, `None` if it did not.
async fn recorded_title(stack: &Stack, incident_id: &str) -> Option<String> {
    let endpoints = &stack.endpoints;
    let channel = endpoints
        .operator_channel(&endpoints.account_grpc_url)
        .unwrap();
    let answer = AccountServiceClient::new(channel)
        .get_incident(GetIncidentRequest {
            incident_id: incident_id.to_owned(),
        })
        .await;
    match answer {
        Ok(response) => Some(response.into_inner().incident.unwrap().title),
        Err(status) if status.code() == tonic::Code::NotFound => None,
        Err(status) => panic!("GetIncident: {status}"),
    }
}

/// The field-by-field difference of the example with another title.
fn assert_names_the_title_change(stderr: &str, changed_title: &str) {
    assert!(stderr.contains("  title:"), "{stderr}");
    let recorded = format!("recorded:    \"{EXAMPLE_TITLE}\"");
    assert!(stderr.contains(&recorded), "{stderr}");
    let reported = format!("this notice: \"{changed_title}\"");
    assert!(stderr.contains(&reported), "{stderr}");
}

#[test]
fn without_a_terminal_it_asks_for_yes_and_publishes_nothing() {
    // Standard input is not a terminal; nothing is reachable either, so
    // the refusal comes before any connection.
    let output = candorctl(
        &["breach", "report", "--file", &repo_path(EXAMPLE)],
        &[
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"),
            ("ACCOUNT_GRPC_URL", "http://127.0.0.1:1"),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(64),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("pass --yes"),
        "{}",
        text(&output.stderr)
    );
}

/// The "done when": the README walkthrough's example, reported,
/// then re-reported unchanged (allowed), then with a changed title
/// (refused with the reason on the operator's screen, also by a dry run).
#[tokio::test]
async fn a_changed_re_report_of_the_example_is_refused_with_the_difference() {
    let (stack, env) = started().await;
    let example = repo_path(EXAMPLE);

    let output = run(&["breach", "report", "--file", &example, "--yes"], &env).await;
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&output.stderr)
    );
    for service in SERVICES {
        assert!(
            answer_line(&stdout, service).ends_with(" recorded"),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("incident {EXAMPLE_ID} recorded by every service")),
        "{stdout}"
    );
    assert_eq!(
        recorded_title(&stack, EXAMPLE_ID).await.unwrap(),
        EXAMPLE_TITLE
    );

    let again = run(&["breach", "report", "--file", &example, "--yes"], &env).await;
    assert!(again.status.success(), "stderr: {}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("already reported with the same content"),
        "{}",
        text(&again.stderr)
    );

    let changed_title = "Member email addresses were stolen";
    let with_changed_title = |mode: &'static str| {
        let example = example.clone();
        let env = env.clone();
        async move {
            let args = [
                "breach",
                "report",
                "--file",
                &example,
                "--title",
                changed_title,
                mode,
            ];
            run(&args, &env).await
        }
    };
    let changed = with_changed_title("--yes").await;
    let stderr = text(&changed.stderr);
    assert_eq!(changed.status.code(), Some(65), "stderr: {stderr}");
    assert!(
        stderr.contains("already reported with different content"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was published"), "{stderr}");
    assert_names_the_title_change(&stderr, changed_title);
    assert!(
        !text(&changed.stdout).contains("published"),
        "{}",
        text(&changed.stdout)
    );

    let dry_run = with_changed_title("--dry-run").await;
    let stderr = text(&dry_run.stderr);
    assert_eq!(dry_run.status.code(), Some(65), "stderr: {stderr}");
    assert!(stderr.contains("warning"), "{stderr}");
    assert_names_the_title_change(&stderr, changed_title);
    assert!(
        text(&dry_run.stdout).contains("--- sample email"),
        "{}",
        text(&dry_run.stdout)
    );

    assert_eq!(
        recorded_title(&stack, EXAMPLE_ID).await.unwrap(),
        EXAMPLE_TITLE
    );
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn the_operator_credential_is_checked_and_a_silent_service_is_named() {
    let (stack, env) = started().await;
    let example = repo_path(EXAMPLE);
    let report = ["breach", "report", "--file", example.as_str(), "--yes"];

    let output = run(&report, &with(&env, "OPERATOR_TOKEN", None)).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(77), "stderr: {stderr}");
    assert!(stderr.contains("OPERATOR_TOKEN is not set"), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");

    let wrong = "not-the-operator-token-0123456789abcdef";
    let output = run(&report, &with(&env, "OPERATOR_TOKEN", Some(wrong))).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(77), "stderr: {stderr}");
    assert!(
        stderr.contains("OPERATOR_TOKEN is not an operator's token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(wrong),
        "the token is never printed: {stderr}"
    );
    assert_eq!(recorded_title(&stack, EXAMPLE_ID).await, None);

    // The forum cannot be asked: the others answer, the forum is named.
    let silent_forum = with(&env, "FORUM_GRPC_URL", Some("http://127.0.0.1:1"));
    let args = report_args(&example, "forum-silent", &["--wait-seconds", "3"]);
    let output = run(&args, &silent_forum).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(75),
        "stdout: {stdout}\nstderr: {}",
        text(&output.stderr)
    );
    for service in ["account", "notification", "membership"] {
        assert!(
            answer_line(&stdout, service).ends_with(" recorded"),
            "{stdout}"
        );
    }
    assert!(
        answer_line(&stdout, "forum").contains("no answer within 3 s"),
        "{stdout}"
    );

    let args = report_args(&example, "not-waited-for", &["--no-wait"]);
    let output = run(&args, &env).await;
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("not waiting for the services"),
        "{}",
        text(&output.stdout)
    );
    stack.stop().await.unwrap();
}

/// The prompt shows who is emailed, who must change passwords and the
/// compensation; "n" publishes nothing. Then, while the operator reads the
/// prompt, another version of the incident reaches every service first:
/// each rejects this one, and the reasons are on the operator's screen.
#[tokio::test]
async fn the_prompt_shows_the_consequences_and_every_rejection_is_reported() {
    let (stack, env) = started().await;
    let example = repo_path(EXAMPLE);
    let seeded = run(&["seed", "--accounts", "50"], &env).await;
    assert!(seeded.status.success(), "stderr: {}", text(&seeded.stderr));
    let report = ["breach", "report", "--file", example.as_str()];

    let mut operator = AtTerminal::start(&report, &borrowed(&env));
    operator
        .wait_for_stderr("Publish? [y/N]", Duration::from_secs(60))
        .await;
    let prompt = operator.stderr();
    assert!(
        prompt.contains("affected members (joined before 2011-11-01T00:00:00Z"),
        "{prompt}"
    );
    assert!(
        prompt.contains("password changes: every member"),
        "{prompt}"
    );
    assert!(
        prompt.contains("compensation:     lifetime membership"),
        "{prompt}"
    );
    operator.type_line("n");
    let declined = operator.finish(Duration::from_secs(30)).await;
    assert_eq!(
        declined.status.code(),
        Some(1),
        "stderr: {}",
        declined.stderr
    );
    assert!(
        declined.stderr.contains("not published"),
        "{}",
        declined.stderr
    );
    assert_eq!(recorded_title(&stack, EXAMPLE_ID).await, None);

    let mut operator = AtTerminal::start(&report, &borrowed(&env));
    operator
        .wait_for_stderr("Publish? [y/N]", Duration::from_secs(60))
        .await;
    let flags = NoticeFlags {
        title: Some("Another version of the notice".to_owned()),
        ..NoticeFlags::default()
    };
    let path = std::path::PathBuf::from(&example);
    let other = notice::load(Some(&path), &flags, SystemTime::now()).unwrap();
    breach::publish(&other, &stack.endpoints).await.unwrap();
    eventually(
        Duration::from_secs(60),
        "every service recorded the other version",
        || async {
            let snapshot = IncidentSnapshot::fetch(&stack.endpoints, EXAMPLE_ID).await;
            let recorded = matches!(&snapshot.account, Ok(progress) if progress.incident_known)
                && matches!(&snapshot.notification, Ok(progress) if progress.incident_known)
                && matches!(&snapshot.membership, Ok(progress) if progress.incident_known)
                && matches!(&snapshot.forum, Ok(Some(_)));
            recorded.then_some(())
        },
    )
    .await;
    operator.type_line("y");
    let finished = operator.finish(Duration::from_secs(90)).await;
    assert_eq!(
        finished.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        finished.stdout,
        finished.stderr
    );
    for service in SERVICES {
        let line = answer_line(&finished.stdout, service);
        assert!(
            line.contains("rejected:") && line.contains("different content"),
            "{line}"
        );
        assert!(
            finished.stderr.contains(&format!(
                "candorctl: {service} rejected incident {EXAMPLE_ID}"
            )),
            "{}",
            finished.stderr
        );
    }
    assert!(
        finished.stderr.contains(&format!(
            "forum rejected incident {EXAMPLE_ID}: invalid message: incident {EXAMPLE_ID} was already reported with different content"
        )),
        "{}",
        finished.stderr
    );
    stack.stop().await.unwrap();
}

#[test]
fn an_invalid_field_is_named_with_its_line_and_nothing_is_published() {
    let example = std::fs::read_to_string(repo_path(EXAMPLE)).unwrap();
    let broken = example.replace("currency = \"USD\"", "currency = \"dollars\"");
    let currency_line = broken
        .lines()
        .position(|line| line.contains("\"dollars\""))
        .unwrap()
        + 1;
    let path = notice_file("bad-currency", &broken);
    // No broker is reachable at this URL: validation must fail before any connection.
    let output = candorctl(
        &["breach", "report", "--file", &path],
        &[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    );
    assert_eq!(
        output.status.code(),
        Some(65),
        "stderr: {}",
        text(&output.stderr)
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{path}:{currency_line}: compensation.currency")),
        "{stderr}"
    );
}

#[test]
fn every_problem_is_reported_at_once_and_an_unknown_value_lists_the_valid_ones() {
    let example = std::fs::read_to_string(repo_path(EXAMPLE)).unwrap();
    let broken = example
        .replace(
            "data_class = \"password_hash\"",
            "data_class = \"shoe_size\"",
        )
        .replace(
            "occurred_at = 2025-05-14T02:10:00Z",
            "occurred_at = \"last tuesday\"",
        )
        // A content rule: before, the enum error hid it.
        .replace("currency = \"USD\"", "currency = \"dollars\"");
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|line| line.contains(needle))
            .unwrap()
            + 1
    };
    let class_line = line_of("shoe_size");
    let time_line = line_of("last tuesday");
    let currency_line = line_of("\"dollars\"");
    let path = notice_file("bad-enum", &broken);
    let output = candorctl(&["breach", "report", "--file", &path], &[]);
    assert_eq!(output.status.code(), Some(65));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            ":{class_line}: data_classes[1].data_class: unknown value \"shoe_size\"; valid values: email_address, password_hash, display_name"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(":{time_line}: occurred_at:")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(":{currency_line}: compensation.currency:")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("DATA_CLASS_"),
        "no protobuf names: {stderr}"
    );
    // The bad time is not also reported as missing.
    assert_eq!(stderr.matches("occurred_at").count(), 1, "{stderr}");
}

#[test]
fn a_missing_enum_lists_its_valid_values_in_the_notice_s_words() {
    let example = std::fs::read_to_string(repo_path(EXAMPLE)).unwrap();
    let without_scope: String = example
        .lines()
        .filter(|line| !line.starts_with("password_reset_scope"))
        .map(|line| format!("{line}\n"))
        .collect();
    let path = notice_file("no-scope", &without_scope);
    let output = candorctl(&["breach", "report", "--file", &path], &[]);
    assert_eq!(output.status.code(), Some(65));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("password_reset_scope: required; valid values: affected, all, none"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_service_is_said_once() {
    // Before publishing, breach report checks the incident with the account
    // service: unreachable, it is the one error, said once.
    let output = candorctl(
        &["breach", "report", "--file", &repo_path(EXAMPLE), "--yes"],
        &[
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"),
            ("ACCOUNT_GRPC_URL", "http://127.0.0.1:1"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let path = notice_file("syntax", "incident_id = \"x\"\ntitle = \n");
    let output = candorctl(&["breach", "report", "--file", &path], &[]);
    assert_eq!(output.status.code(), Some(65));
    assert!(
        text(&output.stderr).contains(&format!("{path}:2:")),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_notice_without_a_cutoff_is_refused() {
    let output = candorctl(
        &[
            "breach",
            "report",
            "--incident-id",
            "x",
            "--title",
            "t",
            "--summary",
            "s",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(65));
    assert!(
        text(&output.stderr).contains("affected_joined_before"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_late_notification_without_a_reason_is_refused_and_a_reason_lets_it_through() {
    let example = std::fs::read_to_string(repo_path(EXAMPLE)).unwrap();
    // Discovered 2025-05-20T16:45Z; the authority told eight days later.
    let late = example.replace(
        "authority_notified_at = 2025-05-22T09:30:00Z",
        "authority_notified_at = 2025-05-28T16:45:00Z",
    );
    assert_ne!(late, example, "the example states authority_notified_at");
    let path = notice_file("late", &late);
    // No broker is reachable at this URL: validation must fail before any connection.
    let broker = [("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")];
    let refused = candorctl(&["breach", "report", "--file", &path, "--yes"], &broker);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("late_notification_reason: required: the authority was notified 192 hours after discovered_at"),
        "{stderr}"
    );

    let explained = candorctl(
        &[
            "breach",
            "report",
            "--file",
            &path,
            "--yes",
            "--late-notification-reason",
            "The backup's contents were confirmed only after the storage provider's logs arrived.",
        ],
        &broker,
    );
    let stderr = text(&explained.stderr);
    assert_ne!(explained.status.code(), Some(65), "{stderr}");
    assert!(!stderr.contains("late_notification_reason"), "{stderr}");
}

#[test]
fn an_incident_past_72_hours_without_a_notification_needs_a_reason_too() {
    let example = std::fs::read_to_string(repo_path(EXAMPLE)).unwrap();
    let unnotified: String = example
        .lines()
        .filter(|line| !line.starts_with("authority_notified_at"))
        .map(|line| format!("{line}\n"))
        .collect();
    let path = notice_file("unnotified", &unnotified);
    let output = candorctl(
        &["breach", "report", "--file", &path, "--yes"],
        &[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("late_notification_reason: required: it is now"),
        "{stderr}"
    );
}
