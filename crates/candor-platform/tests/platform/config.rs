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
fn amqp_url_takes_a_cluster_s_nodes_and_names_a_bad_one_by_its_position() {
    let nodes = "amqp://candor:n0de-secret@rabbitmq:5672/%2f,amqp://candor:n0de-secret@rabbitmq-2:5672/%2f,amqp://candor:n0de-secret@rabbitmq-3:5672/%2f";
    let config = parse(&[&format!("--amqp-url={nodes}")], None).unwrap();
    assert_eq!(
        candor_platform::config::expose(&config.common.amqp.amqp_url),
        nodes
    );

    for (value, problem) in [
        (
            "amqp://candor:n0de-secret@rabbitmq:5672/%2f,https://candor:n0de-secret@rabbitmq-2",
            "entry 2 of 2: must start with amqp:// or amqps://",
        ),
        (
            "amqp://candor:n0de-secret@rabbitmq:5672/%2f,,amqp://candor:n0de-secret@rabbitmq-3",
            "entry 2 of 3: is empty",
        ),
        (
            "amqp://candor:n0de-secret@rabbitmq:5672/%2f,amqp://other:n0de-secret@rabbitmq-2",
            "entry 2 of 2: names another user than entry 1",
        ),
    ] {
        let line = invalid_line(parse(&[&format!("--amqp-url={value}")], None));
        assert!(line.contains("AMQP_URL"), "{line}");
        assert!(line.contains(problem), "{line}");
        assert!(!line.contains("n0de-secret"), "the password leaked: {line}");
    }
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

/// A file holding `content`, removed when dropped.
struct SecretFile(std::path::PathBuf);

impl SecretFile {
    fn new(content: &str) -> Self {
        let path = std::env::temp_dir().join(format!("candor-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn path(&self) -> std::ffi::OsString {
        self.0.clone().into_os_string()
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Parses the valid settings without `--operator-token`, with `environment`
/// standing in for the process environment's `*_FILE` variables.
fn parse_with_files(
    environment: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<TestConfig, ConfigError> {
    let args = VALID
        .iter()
        .copied()
        .filter(|arg| !arg.starts_with("--operator-token"));
    candor_platform::config::try_parse_with_environment(
        std::iter::once("candor-test").chain(args),
        environment,
    )
}

#[test]
fn a_secret_can_come_from_the_file_its_file_variable_names() {
    if std::env::var_os("OPERATOR_TOKEN").is_some() {
        return;
    }
    let file = SecretFile::new("operator-token-from-a-file-0123\n");
    let path = file.path();
    let config =
        parse_with_files(|name| (name == "OPERATOR_TOKEN_FILE").then(|| path.clone())).unwrap();
    assert_eq!(
        candor_platform::config::expose(&config.common.auth.operator_token),
        "operator-token-from-a-file-0123",
        "the trailing newline is dropped"
    );
}

#[test]
fn a_value_from_a_file_is_validated_like_any_other_without_being_echoed() {
    if std::env::var_os("OPERATOR_TOKEN").is_some() {
        return;
    }
    let file = SecretFile::new("hunter2");
    let path = file.path();
    let line = invalid_line(parse_with_files(|name| {
        (name == "OPERATOR_TOKEN_FILE").then(|| path.clone())
    }));
    assert!(line.contains("OPERATOR_TOKEN"), "{line}");
    assert!(line.contains("16 characters"), "{line}");
    assert!(!line.contains("hunter2"), "the secret leaked: {line}");
}

#[test]
fn a_setting_and_its_file_variable_together_are_refused() {
    let file = SecretFile::new("operator-token-from-a-file-0123");
    let path = file.path();
    let line = invalid_line(parse_with_files(|name| match name {
        "OPERATOR_TOKEN_FILE" => Some(path.clone()),
        "OPERATOR_TOKEN" => Some("operator-token-from-the-env-0123".into()),
        _ => None,
    }));
    assert!(
        line.contains("OPERATOR_TOKEN and OPERATOR_TOKEN_FILE are both set"),
        "{line}"
    );
    assert!(!line.contains("from-the-env"), "{line}");
}

#[test]
fn an_unreadable_secret_file_names_the_variable_and_the_path() {
    let line = invalid_line(parse_with_files(|name| {
        (name == "OPERATOR_TOKEN_FILE").then(|| "/nonexistent/candor/operator-token".into())
    }));
    assert!(line.contains("OPERATOR_TOKEN_FILE"), "{line}");
    assert!(
        line.contains("/nonexistent/candor/operator-token"),
        "{line}"
    );
}

#[test]
fn help_never_shows_a_secret_value_but_shows_other_values() {
    let help = match try_parse_from::<TestConfig, _, _>(["candor-test", "--help"]) {
        Err(ConfigError::Display(text)) => text,
        other => panic!("expected help, got {other:?}"),
    };
    // Whatever the environment holds, the secret settings show no value.
    for secret in [
        "OPERATOR_TOKEN",
        "SERVICE_TOKEN",
        "DATABASE_URL",
        "AMQP_URL",
    ] {
        assert!(
            help.contains(&format!("[env: {secret}]")),
            "{secret}: {help}"
        );
    }
    assert!(help.contains("[env: AMQP_NAMESPACE"), "{help}");
}

/// `METRICS_ADDR` as every service declares it.
#[derive(Parser, Debug)]
#[command(name = "candor-metrics-test")]
struct MetricsAddrConfig {
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9451")]
    metrics_addr: candor_platform::config::MetricsAddr,
}

#[test]
fn metrics_addr_is_an_address_or_off_and_nothing_else() {
    use candor_platform::config::MetricsAddr;

    let parse_addr = |value: &str| {
        try_parse_from(["candor-metrics-test", value])
            .map(|config: MetricsAddrConfig| config.metrics_addr)
    };
    if std::env::var_os("METRICS_ADDR").is_none() {
        let default: MetricsAddrConfig = try_parse_from(["candor-metrics-test"]).unwrap();
        assert_eq!(
            default.metrics_addr,
            MetricsAddr::Listen("0.0.0.0:9451".parse().unwrap())
        );
    }
    assert_eq!(parse_addr("--metrics-addr=off").unwrap(), MetricsAddr::Off);
    assert_eq!(parse_addr("--metrics-addr=OFF").unwrap(), MetricsAddr::Off);
    assert_eq!(
        parse_addr("--metrics-addr=127.0.0.1:0").unwrap(),
        MetricsAddr::loopback_any_port()
    );
    let line = match parse_addr("--metrics-addr=localhost") {
        Err(ConfigError::Invalid(line)) => line,
        other => panic!("expected an invalid-configuration error, got {other:?}"),
    };
    assert!(!line.contains('\n'), "one line: {line:?}");
    assert!(line.contains("METRICS_ADDR"), "{line}");
    assert!(
        line.contains("`off`"),
        "the other valid value is named: {line}"
    );
}

#[test]
fn the_incident_linger_is_bounded_to_a_week() {
    let line = invalid_line(parse(&["--metrics-incident-linger-seconds=604801"], None));
    assert!(line.contains("METRICS_INCIDENT_LINGER_SECONDS"), "{line}");
    let config = parse(&["--metrics-incident-linger-seconds=0"], None).unwrap();
    assert_eq!(config.common.metrics.metrics_incident_linger_seconds, 0);
}
