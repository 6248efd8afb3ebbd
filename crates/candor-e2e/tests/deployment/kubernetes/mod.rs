//! `deploy/kubernetes` holds to the code and to compose. Every manifest a
//! kustomization lists is parsed (each file may hold several documents) and
//! checked: a Deployment per service probed on its gRPC port under its API's
//! health name, its Service and disruption budget selecting exactly its pods,
//! settings the service accepts and validates, secrets that exist in the
//! Secret the pod mounts, the image's non-root user, resource requests no
//! lower than the measured memory, and autoscaling on metrics that exist.
//! (Whether every object matches the Kubernetes schemas is
//! `scripts/check-deploy`'s job, with kubectl's kustomize and
//! kubernetes-validate.)

mod deployments;
mod scaling;
mod settings;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_yaml::Value;

use crate::repo_root;

/// The kustomization every deployment starts from.
pub(crate) const BASE: &str = "deploy/kubernetes/base";
/// The base with KEDA's autoscaling on top.
pub(crate) const AUTOSCALING: &str = "deploy/kubernetes/autoscaling";

/// `a/b/../c` as `a/c` (kustomizations name their bases relatively).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn read_relative(path: &Path) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full)
        .unwrap_or_else(|error| panic!("reading {}: {error}", full.display()))
}

/// Every document of a YAML file (separated by `---` lines), empty ones
/// left out.
pub(crate) fn documents(path: &Path) -> Vec<Value> {
    let text = read_relative(path);
    let mut documents = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            documents.push(String::new());
        } else if let Some(current) = documents.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents
        .iter()
        .enumerate()
        .map(|(index, document)| {
            serde_yaml::from_str::<Value>(document).unwrap_or_else(|error| {
                panic!(
                    "{} (document {}) parses: {error}",
                    path.display(),
                    index + 1
                )
            })
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// The `kustomization.yaml` of a directory.
pub(crate) fn kustomization(dir: &str) -> Value {
    let path = Path::new(dir).join("kustomization.yaml");
    documents(&path)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} is empty", path.display()))
}

/// Strings of a YAML sequence (or nothing).
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The manifests a kustomization lists, its bases' included, as
/// `(file, object)`; the generated objects (Secrets) are not among them.
pub(crate) fn objects(dir: &str) -> Vec<(PathBuf, Value)> {
    let mut found = Vec::new();
    for resource in strings(kustomization(dir).get("resources")) {
        let path = normalize(&Path::new(dir).join(&resource));
        if repo_root().join(&path).is_dir() {
            found.extend(objects(path.to_str().expect("a UTF-8 path")));
        } else {
            for object in documents(&path) {
                found.push((path.clone(), object));
            }
        }
    }
    found
}

pub(crate) fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn name_of(object: &Value) -> &str {
    object
        .get("metadata")
        .and_then(|metadata| metadata.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The object of `kind` named `name` among `objects`.
pub(crate) fn find<'a>(objects: &'a [(PathBuf, Value)], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .map(|(_, object)| object)
        .find(|object| kind_of(object) == kind && name_of(object) == name)
        .unwrap_or_else(|| panic!("deploy/kubernetes has no {kind} {name:?}"))
}

/// Every object of `kind`.
pub(crate) fn all<'a>(objects: &'a [(PathBuf, Value)], kind: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .map(|(_, object)| object)
        .filter(|object| kind_of(object) == kind)
        .collect()
}

/// A value at a path of mapping keys.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(*key))
}

/// A string-to-string mapping (labels, selectors, ConfigMap data).
pub(crate) fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_mapping)
        .map(|mapping| {
            mapping
                .iter()
                .map(|(key, value)| {
                    let value = match value {
                        Value::String(text) => text.clone(),
                        Value::Number(number) => number.to_string(),
                        Value::Bool(flag) => flag.to_string(),
                        other => panic!("not a string value: {other:?}"),
                    };
                    (key.as_str().expect("a string key").to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The single container of a Deployment.
pub(crate) fn container(deployment: &Value) -> &Value {
    let containers = at(deployment, &["spec", "template", "spec", "containers"])
        .and_then(Value::as_sequence)
        .expect("containers");
    assert_eq!(
        containers.len(),
        1,
        "Deployment {} runs one container",
        name_of(deployment)
    );
    &containers[0]
}

/// The labels a Deployment gives its pods.
pub(crate) fn pod_labels(deployment: &Value) -> BTreeMap<String, String> {
    string_map(at(deployment, &["spec", "template", "metadata", "labels"]))
}

/// Whether every `selector` pair is among `labels`.
pub(crate) fn selects(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

/// A Kubernetes quantity in base units: bytes for memory (`96Mi`), cores
/// for CPU (`500m`, `2`).
pub(crate) fn quantity(text: &str) -> f64 {
    const SUFFIXES: [(&str, f64); 7] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("m", 1e-3),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("quantity {text:?}"))
                * factor;
        }
    }
    text.parse().unwrap_or_else(|_| panic!("quantity {text:?}"))
}

/// A quantity field that may be written as a YAML number.
pub(crate) fn quantity_at(value: &Value, path: &[&str]) -> Option<f64> {
    match at(value, path)? {
        Value::String(text) => Some(quantity(text)),
        Value::Number(number) => number.as_f64(),
        other => panic!("{path:?} is not a quantity: {other:?}"),
    }
}

#[test]
fn quantities_are_read_as_kubernetes_reads_them() {
    assert_eq!(quantity("96Mi"), 96.0 * 1024.0 * 1024.0);
    assert_eq!(quantity("500m"), 0.5);
    assert_eq!(quantity("2"), 2.0);
    assert_eq!(quantity("1Gi"), 1024.0 * 1024.0 * 1024.0);
}

#[test]
fn every_manifest_is_listed_parses_and_lands_in_the_candor_namespace() {
    for dir in [BASE, AUTOSCALING] {
        assert_eq!(
            kustomization(dir).get("namespace").and_then(Value::as_str),
            Some("candor"),
            "{dir}/kustomization.yaml puts everything in the candor namespace"
        );
        let listed: Vec<String> = strings(kustomization(dir).get("resources"));
        let entries = std::fs::read_dir(repo_root().join(dir)).expect("the directory");
        for entry in entries {
            let file = entry.expect("an entry").file_name();
            let file = file.to_str().expect("a UTF-8 name");
            if file.ends_with(".yaml") && file != "kustomization.yaml" {
                assert!(
                    listed.iter().any(|resource| resource == file),
                    "{dir}/{file} is not in its kustomization's resources, so nothing applies it"
                );
            }
        }
    }
    let objects = objects(AUTOSCALING);
    assert!(!objects.is_empty());
    for (file, object) in &objects {
        for field in ["apiVersion", "kind"] {
            assert!(
                object.get(field).and_then(Value::as_str).is_some(),
                "{}: an object without {field}",
                file.display()
            );
        }
        assert!(
            !name_of(object).is_empty(),
            "{}: a {} without a name",
            file.display(),
            kind_of(object)
        );
        // kustomize sets the namespace; one written in a file would win
        // over it for that object alone.
        assert!(
            at(object, &["metadata", "namespace"]).is_none(),
            "{}: {} {} names its own namespace",
            file.display(),
            kind_of(object),
            name_of(object)
        );
    }
    find(&objects, "Namespace", "candor");
}
