//! The real binary: the conformance kit's configuration checks, then
//! health over HTTP and a clean exit on SIGTERM.

use std::time::{Duration, Instant};

use candor_testkit::binary::{ServiceBinary, free_port};
use candor_testkit::conformance;
use candor_testkit::environment::caller_token;

fn binary() -> ServiceBinary {
    ServiceBinary::new(env!("CARGO_BIN_EXE_candor-web"))
        .env(
            "FRONTEND_TOKEN",
            caller_token(candor_platform::auth::Caller::FrontEnd),
        )
        .env("WEB_COOKIE_KEY", "a-test-cookie-key-of-at-least-32-chars")
}

#[test]
fn configuration_errors_are_one_line() {
    let binary = binary();
    conformance::help_lists_every_setting(
        &binary,
        &[
            "WEB_ADDR",
            "ACCOUNT_GRPC_URL",
            "FORUM_GRPC_URL",
            "FRONTEND_TOKEN",
            "WEB_COOKIE_KEY",
            "SHUTDOWN_GRACE_SECONDS",
            "GRPC_TLS_CA_FILE",
            "LOG_FORMAT",
        ],
    )
    .unwrap();
    conformance::missing_setting_is_one_line(&binary, "FRONTEND_TOKEN").unwrap();
    conformance::missing_setting_is_one_line(&binary, "WEB_COOKIE_KEY").unwrap();
    conformance::invalid_setting_is_one_line(&binary, "WEB_COOKIE_KEY", "too-short").unwrap();
    conformance::invalid_setting_is_one_line(&binary, "ACCOUNT_GRPC_URL", "account:50051").unwrap();
}

#[test]
fn serves_health_and_stops_on_sigterm() {
    let port = free_port().unwrap();
    let running = binary()
        .env("WEB_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = ServiceBinary::new(env!("CARGO_BIN_EXE_candor-web"));
    loop {
        let checked = health.output(&["health", &addr]).unwrap();
        if checked.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "never healthy: {checked:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let exited = running.terminate(Duration::from_secs(20)).unwrap();
    assert!(exited.status.success(), "{exited:?}");
    assert!(
        exited.stdout.contains("sigterm received"),
        "{}",
        exited.stdout
    );
    for line in exited.stdout.lines().filter(|line| !line.trim().is_empty()) {
        assert!(line.starts_with('{'), "a JSON log line: {line}");
    }
    // Stopped: the health check fails.
    assert!(!health.output(&["health", &addr]).unwrap().status.success());
}
