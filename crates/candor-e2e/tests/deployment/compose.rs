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

#[test]
fn every_compose_variable_is_a_setting_the_service_accepts() {
    let document = compose();
    for expected in services() {
        let accepted: BTreeSet<&str> = expected.settings.iter().map(|s| s.env.as_str()).collect();
        for (name, _) in environment(service(&document, expected.compose_name)) {
            assert!(
                accepted.contains(name.as_str()),
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
            .map(|(name, _)| name)
            .collect();
        for setting in expected.settings.iter().filter(|setting| setting.required) {
            assert!(
                set.contains(&setting.env),
                "{} requires {} but compose does not set it",
                expected.binary,
                setting.env
            );
        }
    }
}

#[test]
fn compose_values_pass_the_services_own_validation() {
    let document = compose();
    for expected in services() {
        let environment = environment(service(&document, expected.compose_name));
        if let Err(line) = validate(expected.compose_name, &environment) {
            panic!(
                "compose defaults for {} are rejected: {line}",
                expected.compose_name
            );
        }
    }
}

/// Parses `environment` (compose values, `${NAME:-default}` taken at their
/// defaults) with the named service's own configuration.
pub(crate) fn validate(name: &str, environment: &[(String, String)]) -> Result<(), String> {
    let expected = services()
        .into_iter()
        .find(|s| s.compose_name == name)
        .expect("known service");
    let mut args = vec![expected.binary.to_owned()];
    for (env, value) in environment {
        let setting = expected
            .settings
            .iter()
            .find(|s| &s.env == env)
            .unwrap_or_else(|| panic!("{name} does not accept {env}"));
        args.push(format!("{}={}", setting.long_flag, default_of(value)));
    }
    match name {
        "account" => parse::<candor_account::Config>(args),
        "notification" => parse::<candor_notification::Config>(args),
        "membership" => parse::<candor_membership::Config>(args),
        "forum" => parse::<candor_forum::Config>(args),
        other => panic!("unknown service {other}"),
    }
}

fn parse<C: clap::Parser>(args: Vec<String>) -> Result<(), String> {
    candor_platform::config::try_parse_from::<C, _, _>(args)
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

        let published: Vec<String> = service
            .get("ports")
            .and_then(Value::as_sequence)
            .expect("ports")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        assert!(
            published
                .iter()
                .any(|mapping| mapping.ends_with(&format!(":{port}"))),
            "{} publishes its gRPC port {port}: {published:?}",
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
    let init_sql = read("deploy/postgres/init-databases.sql");
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
        let database_url = environment(service)
            .into_iter()
            .find(|(name, _)| name == "DATABASE_URL")
            .map(|(_, value)| default_of(&value))
            .expect("DATABASE_URL");
        let database = database_url.rsplit('/').next().expect("database name");
        assert_eq!(database, format!("candor_{}", expected.compose_name));
        assert!(
            init_sql.contains(&format!("CREATE DATABASE {database};")),
            "deploy/postgres/init-databases.sql creates {database}"
        );
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
