//! `candorctl breach report`: validation names the field and line; a valid
//! notice is published with a confirm and arrives as `BreachReported`.

use std::time::{Duration, Instant};

use candor_platform::messaging::ServiceQueue;
use candor_proto::events::v1::{BreachReported, CompensationKind, PasswordResetScope};
use candor_proto::prost::Message;
use candor_testkit::rabbitmq::TestBroker;

use crate::{candorctl, repo_path, text};

const EXAMPLE: &str = "deploy/examples/breach.toml";

fn broker_env(broker: &TestBroker) -> Vec<(&'static str, String)> {
    vec![
        ("AMQP_URL", broker.url().to_owned()),
        ("AMQP_NAMESPACE", broker.namespace().to_owned()),
    ]
}

fn run(args: &[&str], env: &[(&'static str, String)]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    candorctl(args, &env)
}

/// Writes `notice` to a temporary file and returns its path.
fn notice_file(name: &str, notice: &str) -> String {
    let path = std::env::temp_dir().join(format!("candorctl-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, notice).unwrap();
    path.to_string_lossy().into_owned()
}

async fn next_breach(broker: &TestBroker, queue: &str) -> BreachReported {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(message) = broker.get(queue).await.unwrap() {
            assert_eq!(message.routing_key, "breach.reported");
            return BreachReported::decode(message.body.as_slice()).unwrap();
        }
        assert!(Instant::now() < deadline, "no breach.reported arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_example_notice_is_published_and_arrives_as_breach_reported() {
    let broker = TestBroker::new();
    broker.declare_all().await.unwrap();
    let output = run(
        &["breach", "report", "--file", &repo_path(EXAMPLE)],
        &broker_env(&broker),
    );
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "2025-05-member-backup");

    let queue = broker.topology().queue_name(ServiceQueue::Account.name());
    let breach = next_breach(&broker, &queue).await;
    assert_eq!(breach.incident_id, "2025-05-member-backup");
    assert_eq!(breach.password_reset_scope(), PasswordResetScope::All);
    let compensation = breach.compensation.unwrap();
    assert_eq!(compensation.kind(), CompensationKind::LifetimeMembership);
    assert_eq!(compensation.value_minor_units, 2500);
    assert_eq!(breach.data_classes.len(), 2);
    assert_eq!(
        breach.affected_joined_before.unwrap().seconds,
        1_320_105_600
    );
}

#[tokio::test]
async fn flags_override_the_file() {
    let broker = TestBroker::new();
    broker.declare_all().await.unwrap();
    let output = run(
        &[
            "breach",
            "report",
            "--file",
            &repo_path(EXAMPLE),
            "--incident-id",
            "second-incident",
            "--password-reset-scope",
            "affected",
        ],
        &broker_env(&broker),
    );
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let queue = broker.topology().queue_name(ServiceQueue::Forum.name());
    let breach = next_breach(&broker, &queue).await;
    assert_eq!(breach.incident_id, "second-incident");
    assert_eq!(breach.password_reset_scope(), PasswordResetScope::Affected);
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
fn an_unreachable_broker_is_said_once() {
    let output = candorctl(
        &["breach", "report", "--file", &repo_path(EXAMPLE)],
        &[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
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

#[tokio::test]
async fn publishing_where_no_service_declared_its_queues_fails_loudly() {
    let broker = TestBroker::new();
    broker
        .topology()
        .declare_exchanges(&broker.channel().await.unwrap())
        .await
        .unwrap();
    let output = run(
        &["breach", "report", "--file", &repo_path(EXAMPLE)],
        &broker_env(&broker),
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {}",
        text(&output.stdout)
    );
    assert!(
        text(&output.stderr).contains("cannot publish"),
        "{}",
        text(&output.stderr)
    );
}
