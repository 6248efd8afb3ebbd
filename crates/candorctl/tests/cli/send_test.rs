//! `candorctl breach report --dry-run --send-test-to ADDRESS` against the
//! real account and notification services and an SMTP sink: exactly one
//! message, marked as a test, to that address, and nothing recorded.

use candor_platform::service::ServiceApp as _;
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use candor_testkit::service::RunningService;
use candor_testkit::smtp::SmtpSink;

use crate::{candorctl, candorctl_off_runtime, repo_path, text};

const EXAMPLE: &str = "deploy/examples/breach.toml";

/// The arguments of a dry run of the notice `file` sending a test to
/// `address`.
fn dry_run_sending_to<'a>(file: &'a str, address: &'a str) -> [&'a str; 7] {
    [
        "breach",
        "report",
        "--file",
        file,
        "--dry-run",
        "--send-test-to",
        address,
    ]
}

/// The account and notification services, each with its own environment,
/// the notification service sending through `sink`.
struct Services {
    account: RunningService,
    notification: RunningService,
    account_environment: TestEnvironment,
    notification_environment: TestEnvironment,
}

impl Services {
    async fn start(sink: &SmtpSink) -> Self {
        let account_environment = TestEnvironment::new().await.unwrap();
        let config: candor_account::Config = account_environment
            .config(&[(
                "LEGACY_HASH_KEY",
                "cli-test-legacy-hash-key-0123456789abcdef".to_owned(),
            )])
            .unwrap();
        let app = candor_account::App::build(config).await.unwrap();
        let account = RunningService::serving("account", app.grpc_addr().unwrap(), |shutdown| {
            app.run_until(shutdown)
        })
        .await
        .unwrap();

        let notification_environment = TestEnvironment::new().await.unwrap();
        let config: candor_notification::Config = notification_environment
            .config(&[
                ("SMTP_URL", sink.url()),
                ("ORGANISATION_NAME", "Candor Books".to_owned()),
            ])
            .unwrap();
        let app = candor_notification::App::build(config).await.unwrap();
        let notification =
            RunningService::serving("notification", app.grpc_addr().unwrap(), |shutdown| {
                app.run_until(shutdown)
            })
            .await
            .unwrap();
        Self {
            account,
            notification,
            account_environment,
            notification_environment,
        }
    }

    /// candorctl with these services' URLs and the operator token, run off
    /// the runtime that serves them.
    async fn candorctl(&self, args: &[&str]) -> std::process::Output {
        let env = [
            ("ACCOUNT_GRPC_URL", self.account.url()),
            ("NOTIFICATION_GRPC_URL", self.notification.url()),
            ("OPERATOR_TOKEN", OPERATOR_TOKEN.to_owned()),
        ];
        candorctl_off_runtime(args, &env).await
    }

    /// `breach report` of the example with `--dry-run --send-test-to address`.
    async fn dry_run_sending_to(&self, address: &str) -> std::process::Output {
        let example = repo_path(EXAMPLE);
        self.candorctl(&dry_run_sending_to(&example, address)).await
    }

    async fn rows(environment: &TestEnvironment, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(environment.database.pool())
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.notification.stop().await.unwrap();
        self.account.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_sends_one_marked_test_notice_to_one_address_and_records_nothing() {
    let sink = SmtpSink::start().unwrap();
    let services = Services::start(&sink).await;

    let output = services.dry_run_sending_to("ops@books.example").await;
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&output.stderr)
    );
    assert!(stdout.contains("would affect 0 accounts"), "{stdout}");
    assert!(
        stdout.contains("a data breach at Candor Books that involves"),
        "the sample names the organisation: {stdout}"
    );
    assert!(
        stdout.contains(
            "--- test notice sent to ops@books.example (subject \"[TEST] Notice of Data Breach\""
        ),
        "{stdout}"
    );

    let received = sink.messages();
    assert_eq!(received.len(), 1, "exactly one message");
    let message = &received[0];
    assert_eq!(message.to, ["ops@books.example"]);
    assert_eq!(
        message.header("Subject").as_deref(),
        Some("[TEST] Notice of Data Breach")
    );
    let raw = message.text();
    assert!(raw.contains("Content-Type: text/plain") && raw.contains("Content-Type: text/html"));
    let unfolded = raw.replace("=\r\n", "");
    assert_eq!(
        unfolded
            .matches("This is a test of the notice members will receive")
            .count(),
        2,
        "the test line in both parts: {unfolded}"
    );
    assert!(unfolded.contains("Dear Ada Lovelace,"), "{unfolded}");

    for table in ["incidents", "email_jobs", "email_queue"] {
        assert_eq!(
            Services::rows(&services.notification_environment, table).await,
            0,
            "notification {table}"
        );
    }
    assert_eq!(
        Services::rows(&services.account_environment, "incidents").await,
        0,
        "account incidents"
    );
    services.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_notice_the_smtp_server_refuses_fails_the_dry_run_with_its_reason() {
    let sink = SmtpSink::start().unwrap();
    sink.refuse(
        "gone@books.example",
        candor_testkit::smtp::Refusal::Permanent,
    );
    let services = Services::start(&sink).await;
    let output = services.dry_run_sending_to("gone@books.example").await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "test notice to gone@books.example not sent: failed precondition: the SMTP server refused"
        ),
        "{stderr}"
    );
    assert!(sink.messages().is_empty());
    services.stop().await;
}

#[test]
fn send_test_to_needs_the_dry_run_and_one_address() {
    let example = repo_path(EXAMPLE);
    let without_dry_run = candorctl(
        &[
            "breach",
            "report",
            "--file",
            &example,
            "--send-test-to",
            "ops@books.example",
        ],
        &[],
    );
    assert_eq!(without_dry_run.status.code(), Some(64));
    assert!(
        text(&without_dry_run.stderr).contains("--dry-run"),
        "{}",
        text(&without_dry_run.stderr)
    );
    let bad_address = candorctl(&dry_run_sending_to(&example, "ops at books"), &[]);
    assert_eq!(bad_address.status.code(), Some(64));
    let stderr = text(&bad_address.stderr);
    assert!(
        stderr.contains("--send-test-to") && stderr.contains("must be one email address"),
        "{stderr}"
    );
}
