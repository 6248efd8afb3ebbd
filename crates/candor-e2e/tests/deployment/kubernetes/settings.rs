//! What each Deployment sets: settings its service accepts, every required
//! one, values its own validation takes, secrets read from files of the
//! Secret it mounts (each one a key of that Secret, written by `candorctl
//! dev-secrets` or named in the README as the operator's to supply), and
//! everything docker compose sets.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use candor_e2e::services;
use serde_yaml::Value;

use super::{BASE, at, container, find, kustomization, objects, string_map};
use crate::compose::{
    GeneratedSecrets, compose_file, default_of, environment, parse_as, service, setting_of,
};
use crate::read;

/// Secret files no generator writes: the operator supplies them
/// (deploy/kubernetes/README.md says how).
const SUPPLIED_BY_THE_OPERATOR: [(&str, &str); 1] = [("notification", "smtp_url")];

/// Settings whose compose value is meant for a developer's machine.
const COMPOSE_ONLY_VALUES: [&str; 1] = ["PUBLIC_BASE_URL"];

/// Settings compose sets that a cluster sets its own way or not at all:
/// traces go to compose's Jaeger (a cluster names its own collector, or
/// none), and an empty logo means none.
const COMPOSE_ONLY_SETTINGS: [&str; 2] = ["OTEL_EXPORTER_OTLP_ENDPOINT", "ORGANISATION_LOGO_URL"];

/// The variables a Deployment's container gets, `(name, value, where from)`:
/// each ConfigMap of `envFrom`, then `env`.
pub(crate) fn variables(
    objects: &[(PathBuf, Value)],
    deployment: &Value,
) -> Vec<(String, String, String)> {
    let container = container(deployment);
    let mut found = Vec::new();
    for source in container
        .get("envFrom")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
    {
        let name = at(&source, &["configMapRef", "name"])
            .and_then(Value::as_str)
            .expect("envFrom names a ConfigMap (secrets come as files)");
        let config_map = find(objects, "ConfigMap", name);
        for (key, value) in string_map(config_map.get("data")) {
            found.push((key, value, format!("ConfigMap {name}")));
        }
    }
    for variable in container
        .get("env")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
    {
        let name = variable
            .get("name")
            .and_then(Value::as_str)
            .expect("env name");
        let value = variable
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{name}: a plain value (secrets come as files)"));
        found.push((name.to_owned(), value.to_owned(), "env".to_owned()));
    }
    found
}

/// The value a Deployment gives `variable`, if any.
pub(crate) fn setting_value(
    objects: &[(PathBuf, Value)],
    deployment: &Value,
    variable: &str,
) -> Option<String> {
    variables(objects, deployment)
        .into_iter()
        .find(|(name, _, _)| name == variable)
        .map(|(_, value, _)| value)
}

/// The Secret templates: each generated Secret's keys and the file each
/// comes from (`key=secrets/<service>/<key>` in the kustomization).
fn secret_templates() -> BTreeMap<String, BTreeMap<String, String>> {
    kustomization(BASE)
        .get("secretGenerator")
        .and_then(Value::as_sequence)
        .expect("the base generates the Secrets")
        .iter()
        .map(|generator| {
            let name = generator
                .get("name")
                .and_then(Value::as_str)
                .expect("a Secret name")
                .to_owned();
            let files = super::strings(generator.get("files"))
                .into_iter()
                .map(|entry| {
                    let (key, file) = entry
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{name}: {entry} is not key=file"));
                    (key.to_owned(), file.to_owned())
                })
                .collect();
            (name, files)
        })
        .collect()
}

/// The Secret and key a file path of the container comes from, through the
/// volume mounted above it.
fn secret_file(deployment: &Value, path: &str) -> Option<(String, String)> {
    let container = container(deployment);
    let mounts = container.get("volumeMounts").and_then(Value::as_sequence)?;
    let (volume, key) = mounts.iter().find_map(|mount| {
        let mount_path = mount.get("mountPath").and_then(Value::as_str)?;
        let key = path.strip_prefix(&format!("{mount_path}/"))?;
        let volume = mount.get("name").and_then(Value::as_str)?;
        Some((volume.to_owned(), key.to_owned()))
    })?;
    let secret = at(deployment, &["spec", "template", "spec", "volumes"])
        .and_then(Value::as_sequence)?
        .iter()
        .find(|candidate| candidate.get("name").and_then(Value::as_str) == Some(&volume))
        .and_then(|volume| at(volume, &["secret", "secretName"]))
        .and_then(Value::as_str)?;
    Some((secret.to_owned(), key))
}

#[test]
fn every_variable_a_deployment_sets_is_a_setting_its_service_accepts_once() {
    let objects = objects(BASE);
    for expected in services() {
        let name = expected.compose_name;
        let accepted: BTreeSet<&str> = expected.settings.iter().map(|s| s.env.as_str()).collect();
        let deployment = find(&objects, "Deployment", name);
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (variable, _, from) in variables(&objects, deployment) {
            assert!(
                accepted.contains(variable.as_str()) || accepted.contains(setting_of(&variable)),
                "{from} gives {name} {variable}, which {} does not accept",
                expected.binary
            );
            // Two sources for one setting: which one wins depends on their
            // order, and `X` beside `X_FILE` stops the service at start.
            if let Some(earlier) = seen.insert(setting_of(&variable).to_owned(), from.clone()) {
                panic!("{name}: {variable} is set by {earlier} and again by {from}");
            }
        }
        for setting in expected.settings.iter().filter(|setting| setting.required) {
            assert!(
                seen.contains_key(&setting.env),
                "{} requires {} but Deployment {name} does not set it (nor {}_FILE)",
                expected.binary,
                setting.env,
                setting.env
            );
        }
    }
}

#[test]
fn every_secret_a_deployment_reads_is_a_key_of_its_own_secret_that_is_written() {
    let objects = objects(BASE);
    let templates = secret_templates();
    let generated = GeneratedSecrets::new();
    let readme = read("deploy/kubernetes/README.md");
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        for (variable, value, _) in variables(&objects, deployment) {
            if setting_of(&variable) == variable {
                continue;
            }
            let (secret, key) = secret_file(deployment, &value).unwrap_or_else(|| {
                panic!("{name}: {variable}={value} is not a file of a mounted Secret")
            });
            assert_eq!(
                secret,
                format!("candor-{name}"),
                "{name} reads only its own Secret, as compose mounts only its own directory"
            );
            let file = templates
                .get(&secret)
                .and_then(|keys| keys.get(&key))
                .unwrap_or_else(|| {
                    panic!("{name}: {variable} reads key {key}, which the Secret {secret} does not have")
                });
            assert_eq!(
                file,
                &format!("secrets/{name}/{key}"),
                "{secret}'s {key} comes from the file dev-secrets names so"
            );
            let supplied = SUPPLIED_BY_THE_OPERATOR.contains(&(name, key.as_str()));
            if supplied {
                assert!(
                    readme.contains(&format!("secrets/{name}/{key}")),
                    "deploy/kubernetes/README.md tells the operator to write secrets/{name}/{key}"
                );
            } else {
                assert!(
                    generated.dir.join(name).join(&key).is_file(),
                    "`candorctl dev-secrets` writes no {name}/{key}, which {secret} needs"
                );
            }
            used.insert((secret, key));
        }
    }
    for (secret, keys) in &templates {
        for key in keys.keys() {
            assert!(
                used.contains(&(secret.clone(), key.clone())),
                "{secret} holds {key}, which no Deployment reads"
            );
        }
    }
}

#[test]
fn the_settings_pass_the_services_own_validation() {
    let objects = objects(BASE);
    let generated = GeneratedSecrets::new();
    for (service, key) in SUPPLIED_BY_THE_OPERATOR {
        // What the operator would write: a provider's URL with credentials.
        std::fs::write(
            generated.dir.join(service).join(key),
            "smtp://candor:provider-password@smtp.provider.example:587?tls=required\n",
        )
        .expect("writing the stand-in");
    }
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        let mut args = vec![expected.binary.to_owned()];
        let mut files: Vec<(String, OsString)> = Vec::new();
        for (variable, value, _) in variables(&objects, deployment) {
            if let Some(setting) = expected.settings.iter().find(|s| s.env == variable) {
                args.push(format!("{}={value}", setting.long_flag));
                continue;
            }
            let (_, key) = secret_file(deployment, &value).expect("a secret file");
            files.push((
                variable,
                generated.dir.join(name).join(key).into_os_string(),
            ));
        }
        let environment = move |variable: &str| {
            files
                .iter()
                .find(|(name, _)| name == variable)
                .map(|(_, path)| path.clone())
        };
        if let Err(line) = parse_as(name, args, environment) {
            panic!("Deployment {name}'s settings are rejected: {line}");
        }
    }
}

#[test]
fn every_deployment_sets_what_compose_sets_and_to_the_same_values() {
    let objects = objects(BASE);
    let document = compose_file("docker-compose.yml");
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        let cluster: BTreeMap<String, String> = variables(&objects, deployment)
            .into_iter()
            .map(|(variable, value, _)| (variable, value))
            .collect();
        let cluster_settings: BTreeSet<&str> = cluster.keys().map(|v| setting_of(v)).collect();
        for (variable, value) in environment(service(&document, name)) {
            let value = default_of(&value);
            let setting = setting_of(&variable);
            if COMPOSE_ONLY_SETTINGS.contains(&setting) {
                continue;
            }
            assert!(
                cluster_settings.contains(setting),
                "compose sets {variable} for {name}, Deployment {name} does not set {setting}"
            );
            if COMPOSE_ONLY_VALUES.contains(&setting) {
                continue;
            }
            // The same value where both set the same variable: ports,
            // queue settings, secrets' paths, and the other services'
            // addresses (Services are named as compose services are).
            if let Some(cluster_value) = cluster.get(&variable) {
                assert_eq!(
                    cluster_value, &value,
                    "{name}'s {variable}: the Deployment and compose disagree"
                );
            }
        }
    }
}
