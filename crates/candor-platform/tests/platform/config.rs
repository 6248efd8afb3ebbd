//! Configuration: every problem is one line naming the setting; secrets are
//! never echoed.

use candor_platform::config::{CommonConfig, ConfigError, try_parse_from};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "candor-test")]
struct TestConfig {
    #[command(flatten)]
    common: CommonConfig,
}

const VALID: [&str; 4] = [
    "--database-url=postgres://postgres@127.0.0.1/candor",
    "--operator-token=operator-token-0123456789",
    "--service-token=service-token-0123456789",
    "--amqp-url=amqp://guest:guest@127.0.0.1:5672/%2f",
];

/// The valid settings with `overrides` replacing (and `without` removing)
/// the flags they name.
fn parse(overrides: &[&str], without: Option<&str>) -> Result<TestConfig, ConfigError> {
    let flag = |arg: &str| arg.split('=').next().unwrap().to_owned();
    let replaced: Vec<String> = overrides.iter().map(|arg| flag(arg)).collect();
    let kept = VALID
        .iter()
        .copied()
        .filter(|arg| Some(flag(arg).as_str()) != without && !replaced.contains(&flag(arg)));
    try_parse_from(
        std::iter::once("candor-test")
            .chain(kept)
            .chain(overrides.iter().copied()),
    )
}

fn invalid_line(result: Result<TestConfig, ConfigError>) -> String {
    match result {
        Err(ConfigError::Invalid(line)) => {
            assert!(!line.contains('\n'), "one line: {line:?}");
            line
        }
        other => panic!("expected an invalid-configuration error, got {other:?}"),
    }
}

#[test]
fn valid_settings_parse_with_their_defaults() {
    let config = parse(&[], None).unwrap();
    assert_eq!(config.common.amqp.amqp_namespace, "candor");
    assert_eq!(config.common.amqp.amqp_prefetch, 256);
    assert_eq!(config.common.server.shutdown_grace_seconds, 30);
}

#[test]
fn a_missing_setting_names_its_environment_variable() {
    if std::env::var_os("DATABASE_URL").is_some() {
        // The variable would satisfy the setting; nothing to check here.
        return;
    }
    let line = invalid_line(parse(&[], Some("--database-url")));
    assert!(line.contains("DATABASE_URL"), "{line}");
    assert!(line.contains("required"), "{line}");
}

#[test]
fn an_invalid_value_names_the_setting_and_the_reason() {
    let line = invalid_line(parse(&["--amqp-queue-type=lazy"], None));
    assert!(line.contains("AMQP_QUEUE_TYPE"), "{line}");
    assert!(
        line.contains("quorum"),
        "the valid values are listed: {line}"
    );

    let line = invalid_line(parse(&["--amqp-prefetch=0"], None));
    assert!(line.contains("AMQP_PREFETCH"), "{line}");

    let line = invalid_line(parse(&["--database-url=mysql://root@localhost/x"], None));
    assert!(
        line.contains("DATABASE_URL") && line.contains("postgres://"),
        "{line}"
    );
}

#[test]
fn a_rejected_secret_is_not_echoed() {
    let line = invalid_line(parse(&["--operator-token=hunter2"], None));
    assert!(line.contains("OPERATOR_TOKEN"), "{line}");
    assert!(line.contains("16 characters"), "{line}");
    assert!(!line.contains("hunter2"), "the secret leaked: {line}");
}

#[test]
fn help_is_not_an_error() {
    assert!(
        matches!(parse(&["--help"], None), Err(ConfigError::Display(text)) if text.contains("[env: AMQP_URL"))
    );
}

#[test]
fn a_tls_certificate_without_its_key_is_one_line_naming_the_key() {
    let line = invalid_line(parse(&["--grpc-tls-cert-file=/etc/candor/cert.pem"], None));
    assert!(line.contains("GRPC_TLS_KEY_FILE"), "{line}");
    let line = invalid_line(parse(&["--grpc-tls-key-file=/etc/candor/key.pem"], None));
    assert!(line.contains("GRPC_TLS_CERT_FILE"), "{line}");
}

#[test]
fn tls_is_off_by_default() {
    let config = parse(&[], None).unwrap();
    assert!(config.common.grpc_tls.grpc_tls_cert_file.is_none());
    assert!(!config.common.server.grpc_tls_require_client_cert);
    let tls = candor_platform::grpc::GrpcTls::load(&config.common.grpc_tls, false).unwrap();
    assert!(tls.server_config().is_none());
}
