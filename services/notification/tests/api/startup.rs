//! The service starts the way an operator runs it, and stops cleanly.

use std::time::Duration;

use candor_notification::{App, Config};
use candor_testkit::binary::ServiceBinary;
use candor_testkit::conformance;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::service::RunningService;
use clap::CommandFactory;

const BINARY: &str = env!("CARGO_BIN_EXE_candor-notification");

fn binary(environment: &TestEnvironment) -> ServiceBinary {
    environment.binary(BINARY)
}

#[tokio::test]
async fn help_lists_every_setting_with_its_environment_variable() {
    let environment = TestEnvironment::new().await.unwrap();
    let settings =
        conformance::every_setting_has_an_environment_variable(&Config::command()).unwrap();
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    conformance::help_lists_every_setting(&binary(&environment), &settings).unwrap();
}

#[tokio::test]
async fn a_missing_or_invalid_setting_stops_the_start_with_one_line() {
    let environment = TestEnvironment::new().await.unwrap();
    let binary = binary(&environment);
    for required in ["DATABASE_URL", "OPERATOR_TOKEN", "SERVICE_TOKEN"] {
        conformance::missing_setting_is_one_line(&binary, required).unwrap();
    }
    conformance::invalid_setting_is_one_line(&binary, "AMQP_QUEUE_TYPE", "lazy").unwrap();
    conformance::invalid_setting_is_one_line(&binary, "OPERATOR_TOKEN", "short").unwrap();
    conformance::invalid_setting_is_one_line(&binary, "GRPC_ADDR", "localhost").unwrap();
}

#[tokio::test]
async fn the_binary_serves_health_and_reflection_and_exits_0_on_sigterm() {
    let environment = TestEnvironment::new().await.unwrap();
    conformance::serves_and_stops_on_sigterm(
        &binary(&environment),
        &[
            "candor.notification.v1.NotificationService",
            "grpc.health.v1.Health",
        ],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn in_process_the_app_migrates_serves_and_stops() {
    let environment = TestEnvironment::new().await.unwrap();
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        smtp_url: "smtp://127.0.0.1:1025".into(),
        public_base_url: "http://localhost:8080".to_owned(),
        account_grpc_url: "http://127.0.0.1:50051".to_owned(),
        forum_grpc_url: "http://127.0.0.1:50054".to_owned(),
        email_from: "Candor <notices@candor.example>".to_owned(),
        thread_link_wait_seconds: 600,
        send_rate_per_second: 14.0,
        smtp_concurrency: 8,
        smtp_timeout_seconds: 30,
        send_max_attempts: 12,
        send_retry_initial_ms: 5_000,
        send_retry_max_ms: 900_000,
        sending_stale_seconds: 300,
        common: environment.common_config(),
    };
    let app = App::build(config).await.unwrap();
    let outbox_exists: bool = sqlx::query_scalar("SELECT to_regclass('candor_outbox') IS NOT NULL")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(outbox_exists, "the platform migrations ran");
    let service = RunningService::spawn(
        candor_notification::BINARY_NAME,
        app.grpc_addr().unwrap(),
        |shutdown| app.run_until(shutdown),
    );
    service
        .wait_until_serving(Duration::from_secs(30))
        .await
        .unwrap();
    service.stop().await.unwrap();
}
