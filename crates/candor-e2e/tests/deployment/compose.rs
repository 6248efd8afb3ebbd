use std::collections::BTreeSet;

use candor_e2e::services;
use serde_yaml::Value;

use crate::read;

fn compose() -> Value {
    compose_file("docker-compose.yml")
}

/// A compose file with its merge keys resolved (top level, each service and
/// its environment, healthcheck and build sections).
pub(crate) fn compose_file(path: &str) -> Value {
    let mut document: Value =
        serde_yaml::from_str(&read(path)).unwrap_or_else(|error| panic!("{path} parses: {error}"));
    document.apply_merge().expect("merge keys resolve");
    // Merge keys nested below the top level need resolving too.
    let services = document
        .get_mut("services")
        .and_then(Value::as_mapping_mut)
        .expect("services mapping");
    for (_, service) in services.iter_mut() {
        service.apply_merge().expect("service merge keys resolve");
        for key in ["environment", "healthcheck", "build"] {
            if let Some(section) = service.get_mut(key) {
                section.apply_merge().expect("section merge keys resolve");
            }
        }
    }
    document
}

pub(crate) fn service<'a>(document: &'a Value, name: &str) -> &'a Value {
    document
        .get("services")
        .and_then(|services| services.get(name))
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name:?}"))
}

pub(crate) fn environment(service: &Value) -> Vec<(String, String)> {
    service
        .get("environment")
        .and_then(Value::as_mapping)
        .expect("environment is a mapping")
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                other => panic!("unexpected environment value {other:?}"),
            };
            (key.as_str().expect("string key").to_owned(), value)
        })
        .collect()
}

/// The healthcheck's `test` command of a service.
pub(crate) fn healthcheck_test(service: &Value) -> Vec<String> {
    service
        .get("healthcheck")
        .and_then(|healthcheck| healthcheck.get("test"))
        .and_then(Value::as_sequence)
        .expect("healthcheck test list")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// `${NAME:-default}` becomes `default`; plain values stay.
pub(crate) fn default_of(value: &str) -> String {
    match value
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
    {
        Some(inner) => inner
            .split_once(":-")
            .map(|(_, default)| default.to_owned())
            .unwrap_or_default(),
        None => value.to_owned(),
    }
}

/// The setting a compose variable stands for: `X` for `X_FILE` (the value
/// read from a file, as Docker secrets are).
pub(crate) fn setting_of(variable: &str) -> &str {
    variable
        .strip_suffix(candor_platform::config::FILE_SUFFIX)
        .unwrap_or(variable)
}

#[test]
fn every_compose_variable_is_a_setting_the_service_accepts() {
    let document = compose();
    for expected in services() {
        let accepted: BTreeSet<&str> = expected.settings.iter().map(|s| s.env.as_str()).collect();
        for (name, _) in environment(service(&document, expected.compose_name)) {
            assert!(
                accepted.contains(name.as_str()) || accepted.contains(setting_of(&name)),
                "compose sets {name} for {} but {} does not accept it (accepted: {accepted:?})",
                expected.compose_name,
                expected.binary
            );
        }
    }
}

#[test]
fn every_required_setting_is_set_in_compose() {
    let document = compose();
    for expected in services() {
        let set: BTreeSet<String> = environment(service(&document, expected.compose_name))
            .into_iter()
            .map(|(name, _)| setting_of(&name).to_owned())
            .collect();
        for setting in expected.settings.iter().filter(|setting| setting.required) {
            assert!(
                set.contains(&setting.env),
                "{} requires {} but compose does not set it (nor {}_FILE)",
                expected.binary,
                setting.env,
                setting.env
            );
        }
    }
}

/// The secrets `candorctl dev-secrets` generates, in a temporary directory
/// (removed on drop), as compose's `secrets` service writes them.
pub(crate) struct GeneratedSecrets {
    pub(crate) dir: std::path::PathBuf,
}

impl GeneratedSecrets {
    pub(crate) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("candor-secrets-{}", uuid::Uuid::new_v4()));
        candorctl::commands::dev_secrets::write(
            &candorctl::commands::dev_secrets::DevSecretsArgs::new(&dir),
        )
        .expect("candorctl dev-secrets writes the secrets");
        Self { dir }
    }
}

impl Drop for GeneratedSecrets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the candor-secrets volume is mounted in a compose service, and
/// which of its directories (`volume.subpath`).
pub(crate) fn secrets_mount(service: &Value) -> Option<(String, String)> {
    service
        .get("volumes")
        .and_then(Value::as_sequence)?
        .iter()
        .find(|volume| volume.get("source").and_then(Value::as_str) == Some("candor-secrets"))
        .map(|volume| {
            let target = volume
                .get("target")
                .and_then(Value::as_str)
                .expect("target");
            let subpath = volume
                .get("volume")
                .and_then(|options| options.get("subpath"))
                .and_then(Value::as_str)
                .unwrap_or("");
            (target.to_owned(), subpath.to_owned())
        })
}

#[test]
fn compose_values_pass_the_services_own_validation() {
    let document = compose();
    let secrets = GeneratedSecrets::new();
    for expected in services() {
        let service = service(&document, expected.compose_name);
        let environment = environment(service);
        if let Err(line) = validate(expected.compose_name, service, &secrets, &environment) {
            panic!(
                "compose defaults for {} are rejected: {line}",
                expected.compose_name
            );
        }
    }
}

/// Parses `environment` (compose values, `${NAME:-default}` taken at their
/// defaults) with the named service's own configuration; `X_FILE` variables
/// read the generated `secrets` at the path the service's mount gives them.
pub(crate) fn validate(
    name: &str,
    service: &Value,
    secrets: &GeneratedSecrets,
    environment: &[(String, String)],
) -> Result<(), String> {
    let expected = services()
        .into_iter()
        .find(|s| s.compose_name == name)
        .expect("known service");
    let mount = secrets_mount(service);
    let mut args = vec![expected.binary.to_owned()];
    let mut files = Vec::new();
    for (env, value) in environment {
        let setting = expected
            .settings
            .iter()
            .find(|s| &s.env == env)
            .or_else(|| expected.settings.iter().find(|s| s.env == setting_of(env)))
            .unwrap_or_else(|| panic!("{name} does not accept {env}"));
        if &setting.env == env {
            args.push(format!("{}={}", setting.long_flag, default_of(value)));
            continue;
        }
        let (target, subpath) = mount
            .clone()
            .unwrap_or_else(|| panic!("{name} sets {env} but mounts no candor-secrets"));
        let relative = default_of(value)
            .strip_prefix(&format!("{target}/"))
            .unwrap_or_else(|| panic!("{name}: {env} is outside the secrets mount {target}"))
            .to_owned();
        let path = secrets.dir.join(&subpath).join(relative);
        assert!(
            path.is_file(),
            "{name}: {env} names {}, which dev-secrets does not write",
            path.display()
        );
        files.push((env.clone(), path.into_os_string()));
    }
    let environment = move |variable: &str| {
        files
            .iter()
            .find(|(name, _)| name == variable)
            .map(|(_, path)| path.clone())
    };
    parse_as(name, args, environment)
}

/// Parses `args` (the binary's name, then `--flag=value`s) and the
/// variables `environment` answers (the `X_FILE` ones) with the
/// configuration of the service named `name`, as it does at start.
pub(crate) fn parse_as(
    name: &str,
    args: Vec<String>,
    environment: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(), String> {
    match name {
        "account" => parse::<candor_account::Config>(args, environment),
        "notification" => parse::<candor_notification::Config>(args, environment),
        "membership" => parse::<candor_membership::Config>(args, environment),
        "forum" => parse::<candor_forum::Config>(args, environment),
        other => panic!("unknown service {other}"),
    }
}

fn parse<C: clap::Parser>(
    args: Vec<String>,
    environment: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(), String> {
    candor_platform::config::try_parse_with_environment::<C, _, _>(args, environment)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

#[test]
fn ports_and_healthchecks_match_the_grpc_address() {
    let document = compose();
    for expected in services() {
        let service = service(&document, expected.compose_name);
        let grpc_addr = environment(service)
            .into_iter()
            .find(|(name, _)| name == "GRPC_ADDR")
            .map(|(_, value)| default_of(&value))
            .unwrap_or_else(|| panic!("{} sets no GRPC_ADDR", expected.compose_name));
        let port: u16 = grpc_addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("GRPC_ADDR has a port");
        assert_eq!(
            port, expected.default_port,
            "{} listens on its documented port",
            expected.compose_name
        );

        let test = healthcheck_test(service);
        assert_eq!(
            test,
            [
                "CMD",
                "candorctl",
                "health",
                "--addr",
                &format!("http://127.0.0.1:{port}")
            ],
            "{} healthcheck asks its own port",
            expected.compose_name
        );
    }
}

#[test]
fn services_wait_for_healthy_infrastructure_and_use_their_own_database() {
    let document = compose();
    let secrets = GeneratedSecrets::new();
    let init_script = read("deploy/postgres/init-databases.sh");
    assert!(
        init_script.contains("for service in account notification membership forum"),
        "init-databases.sh creates a database per service"
    );
    for infrastructure in ["postgres", "rabbitmq"] {
        let condition = service(&document, infrastructure)
            .get("depends_on")
            .and_then(|depends| depends.get("secrets"))
            .and_then(|dependency| dependency.get("condition"))
            .and_then(Value::as_str);
        assert_eq!(
            condition,
            Some("service_completed_successfully"),
            "{infrastructure} starts after the secrets exist"
        );
    }
    for expected in services() {
        let service = service(&document, expected.compose_name);
        for dependency in ["postgres", "rabbitmq"] {
            let condition = service
                .get("depends_on")
                .and_then(|depends| depends.get(dependency))
                .and_then(|dependency| dependency.get("condition"))
                .and_then(Value::as_str);
            assert_eq!(
                condition,
                Some("service_healthy"),
                "{} waits for {dependency}",
                expected.compose_name
            );
        }
        let (_, subpath) = secrets_mount(service).expect("mounts its secrets");
        assert_eq!(
            subpath, expected.compose_name,
            "{} mounts only its own secrets",
            expected.compose_name
        );
        let database_url =
            std::fs::read_to_string(secrets.dir.join(&subpath).join("database_url")).unwrap();
        let (credentials, database) = database_url
            .strip_prefix("postgres://")
            .and_then(|rest| rest.split_once('@'))
            .map(|(credentials, rest)| (credentials, rest.rsplit('/').next().unwrap_or("")))
            .expect("a postgres:// URL with credentials");
        let own = format!("candor_{}", expected.compose_name);
        assert_eq!(database, own);
        assert!(
            credentials.starts_with(&format!("{own}:")),
            "{} logs in as its own role, not as postgres",
            expected.compose_name
        );
    }
}

#[test]
fn compose_publishes_no_working_secret() {
    let text = read("docker-compose.yml");
    for published in [
        "change-me",
        "guest",
        "PASSWORD:",
        "_TOKEN:",
        "LEGACY_HASH_KEY:",
    ] {
        assert!(
            !text.contains(published),
            "docker-compose.yml holds {published:?}: secrets come from the generated volume"
        );
    }
    let document = compose();
    for expected in services() {
        for (name, value) in environment(service(&document, expected.compose_name)) {
            // A URL without credentials (`smtp://mailpit:1025`) is no secret.
            let url_without_credentials = name.ends_with("_URL") && !value.contains('@');
            if candor_platform::config::looks_secret(&name) && !url_without_credentials {
                assert!(
                    name.ends_with(candor_platform::config::FILE_SUFFIX),
                    "{}: {name}={value} is a secret given in compose itself",
                    expected.compose_name
                );
            }
        }
    }
}

#[test]
fn dockerfile_builds_every_service_without_a_database() {
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        dockerfile.contains("SQLX_OFFLINE=true"),
        "the image build must not need a database"
    );
    for expected in services() {
        assert!(
            dockerfile.contains(expected.binary),
            "Dockerfile builds {}",
            expected.binary
        );
        let target = format!(" AS {}", expected.compose_name);
        assert!(
            dockerfile.contains(&target),
            "Dockerfile has a target stage for {}",
            expected.compose_name
        );
    }
}
