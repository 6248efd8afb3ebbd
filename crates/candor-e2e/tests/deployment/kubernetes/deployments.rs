//! Each service's Deployment, Service and PodDisruptionBudget: ports and
//! probes from the code, selectors that pick exactly the service's pods, the
//! image's user, and memory requests no lower than what was measured.

use candor_e2e::{ServiceSettings, services};
use serde_yaml::Value;

use super::{
    BASE, all, at, container, find, kustomization, name_of, objects, pod_labels, quantity_at,
    selects, string_map,
};
use crate::read;

/// The name a service's health server reports its API under (what its
/// probes ask about), from the generated server code.
fn health_name(service: &str) -> &'static str {
    match service {
        "account" => candor_proto::account::v1::account_service_server::SERVICE_NAME,
        "notification" => candor_proto::notification::v1::notification_service_server::SERVICE_NAME,
        "membership" => candor_proto::membership::v1::membership_service_server::SERVICE_NAME,
        "forum" => candor_proto::forum::v1::forum_service_server::SERVICE_NAME,
        other => panic!("unknown service {other}"),
    }
}

/// The port of a setting's default address (`0.0.0.0:9451`).
fn default_port(expected: &ServiceSettings, variable: &str) -> u16 {
    expected
        .settings
        .iter()
        .find(|setting| setting.env == variable)
        .and_then(|setting| setting.default.as_deref())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{} has no default {variable} port", expected.binary))
}

/// The `containerPort` of a container's port named `name`.
pub(super) fn container_port(container: &Value, name: &str) -> Option<u16> {
    container
        .get("ports")
        .and_then(Value::as_sequence)?
        .iter()
        .find(|port| port.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|port| port.get("containerPort"))
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
}

#[test]
fn every_service_runs_as_a_deployment_probed_on_its_grpc_port_under_its_api_name() {
    let objects = objects(BASE);
    let images = kustomization(BASE);
    let images: Vec<&str> = images
        .get("images")
        .and_then(Value::as_sequence)
        .expect("the kustomization names the images")
        .iter()
        .filter_map(|image| image.get("name").and_then(Value::as_str))
        .collect();
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        let selector = string_map(at(deployment, &["spec", "selector", "matchLabels"]));
        assert!(
            selects(&selector, &pod_labels(deployment)),
            "Deployment {name}'s selector picks its own pods"
        );
        let container = container(deployment);
        let image = format!("candor-{name}");
        assert_eq!(
            container.get("image").and_then(Value::as_str),
            Some(image.as_str()),
            "Deployment {name} runs the image of deploy/Dockerfile's target {name}"
        );
        assert!(
            images.contains(&image.as_str()),
            "the kustomization lets the registry and tag of {image} be set"
        );

        let grpc_port = expected.default_port;
        assert_eq!(
            container_port(container, "grpc"),
            Some(grpc_port),
            "Deployment {name} declares the gRPC port the code listens on"
        );
        assert_eq!(
            container_port(container, "metrics"),
            Some(default_port(&expected, "METRICS_ADDR")),
            "Deployment {name} declares the metrics port the code serves"
        );
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let grpc = container
                .get(probe)
                .and_then(|probe| probe.get("grpc"))
                .unwrap_or_else(|| panic!("Deployment {name} has no gRPC {probe}"));
            assert_eq!(
                grpc.get("port").and_then(Value::as_u64),
                Some(u64::from(grpc_port)),
                "{name}'s {probe} asks its gRPC port"
            );
            // The service's own name, which its health server reports
            // SERVING (for notification, not `…Sending`, which goes
            // NOT_SERVING while the SMTP server is away: the API still works).
            assert_eq!(
                grpc.get("service").and_then(Value::as_str),
                Some(health_name(name)),
                "{name}'s {probe} asks about the name its health server reports"
            );
        }
    }
}

#[test]
fn every_service_has_a_service_and_a_disruption_budget_for_exactly_its_pods() {
    let objects = objects(BASE);
    let deployments = all(&objects, "Deployment");
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        let container = container(deployment);
        let labels = pod_labels(deployment);
        let only_its_own = |selector: &std::collections::BTreeMap<String, String>, what: &str| {
            assert!(selects(selector, &labels), "{what} selects {name}'s pods");
            for other in &deployments {
                if name_of(other) != name {
                    assert!(
                        !selects(selector, &pod_labels(other)),
                        "{what} also selects the pods of {}",
                        name_of(other)
                    );
                }
            }
        };

        let service = find(&objects, "Service", name);
        only_its_own(
            &string_map(at(service, &["spec", "selector"])),
            &format!("Service {name}"),
        );
        let ports = at(service, &["spec", "ports"])
            .and_then(Value::as_sequence)
            .expect("Service ports");
        for port_name in ["grpc", "metrics"] {
            let port = ports
                .iter()
                .find(|port| port.get("name").and_then(Value::as_str) == Some(port_name))
                .unwrap_or_else(|| panic!("Service {name} has no port {port_name}"));
            let target = match port.get("targetPort") {
                Some(Value::String(named)) => container_port(container, named),
                Some(Value::Number(number)) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
                _ => None,
            };
            let served = container_port(container, port_name);
            assert!(served.is_some());
            assert_eq!(
                target, served,
                "Service {name}'s {port_name} port reaches the container's"
            );
            // Other services call `http://<name>:<port>`, as in compose.
            assert_eq!(
                port.get("port").and_then(Value::as_u64),
                served.map(u64::from),
                "Service {name} offers {port_name} on the port the code uses"
            );
        }

        let budget = find(&objects, "PodDisruptionBudget", name);
        only_its_own(
            &string_map(at(budget, &["spec", "selector", "matchLabels"])),
            &format!("PodDisruptionBudget {name}"),
        );
        let replicas = at(deployment, &["spec", "replicas"])
            .and_then(Value::as_u64)
            .unwrap_or(1);
        match (
            at(budget, &["spec", "maxUnavailable"]).and_then(Value::as_u64),
            at(budget, &["spec", "minAvailable"]).and_then(Value::as_u64),
        ) {
            (Some(max_unavailable), None) => assert!(
                max_unavailable >= 1,
                "PodDisruptionBudget {name} lets a drain proceed"
            ),
            (None, Some(min_available)) => assert!(
                min_available < replicas,
                "PodDisruptionBudget {name} keeps {min_available} of {replicas}: no drain could proceed"
            ),
            other => {
                panic!("PodDisruptionBudget {name}: one of maxUnavailable, minAvailable: {other:?}")
            }
        }
    }
}

/// The uid the image runs as (`useradd … --uid N` in deploy/Dockerfile).
fn image_uid() -> u64 {
    let dockerfile = read("deploy/Dockerfile");
    let words: Vec<&str> = dockerfile.split_whitespace().collect();
    words
        .windows(2)
        .find(|pair| pair[0] == "--uid")
        .and_then(|pair| pair[1].parse().ok())
        .expect("deploy/Dockerfile creates its user with --uid")
}

#[test]
fn pods_run_as_the_images_user_on_a_read_only_root_and_outlast_their_grace() {
    let objects = objects(BASE);
    let uid = image_uid();
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        let pod = at(deployment, &["spec", "template", "spec"]).expect("pod spec");
        assert_eq!(
            at(pod, &["securityContext", "runAsNonRoot"]).and_then(Value::as_bool),
            Some(true),
            "{name} refuses to run as root"
        );
        assert_eq!(
            at(pod, &["securityContext", "runAsUser"]).and_then(Value::as_u64),
            Some(uid),
            "{name} runs as the image's user"
        );
        let container = container(deployment);
        let context = container.get("securityContext").expect("securityContext");
        assert_eq!(
            context
                .get("readOnlyRootFilesystem")
                .and_then(Value::as_bool),
            Some(true),
            "{name}'s root filesystem is read-only"
        );
        assert_eq!(
            context
                .get("allowPrivilegeEscalation")
                .and_then(Value::as_bool),
            Some(false),
            "{name} cannot gain privileges"
        );
        assert!(
            super::strings(at(context, &["capabilities", "drop"])).contains(&"ALL".to_owned()),
            "{name} drops every capability"
        );
        assert_eq!(
            pod.get("automountServiceAccountToken")
                .and_then(Value::as_bool),
            Some(false),
            "{name} never calls the Kubernetes API and gets no token for it"
        );

        // SIGTERM comes after preStop; the service then drains for up to
        // SHUTDOWN_GRACE_SECONDS. Kubernetes kills at the grace period.
        let drain = super::settings::setting_value(&objects, deployment, "SHUTDOWN_GRACE_SECONDS")
            .unwrap_or_else(|| {
                expected
                    .settings
                    .iter()
                    .find(|setting| setting.env == "SHUTDOWN_GRACE_SECONDS")
                    .and_then(|setting| setting.default.clone())
                    .expect("a default grace")
            })
            .parse::<u64>()
            .expect("seconds");
        let pause = super::strings(at(container, &["lifecycle", "preStop", "exec", "command"]))
            .get(1)
            .and_then(|seconds| seconds.parse::<u64>().ok())
            .unwrap_or(0);
        let grace = pod
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(30);
        assert!(
            grace > pause + drain,
            "{name}: terminationGracePeriodSeconds {grace} must exceed the preStop pause {pause} + SHUTDOWN_GRACE_SECONDS {drain}"
        );
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// The highest peak RSS each service showed at its default settings in the
/// benchmarks, MiB: account enumerating a million affected members (the
/// whole bench process, services/account/BENCHMARKS.md), the others through
/// breaches of 100,000 and 1,000,000 members (crates/candor-e2e/BENCHMARKS.md,
/// docs/capacity.md).
const MEASURED_PEAK_RSS_MIB: [(&str, f64); 4] = [
    ("account", 43.0),
    ("notification", 49.4),
    ("membership", 39.8),
    ("forum", 25.7),
];

/// Memory of one argon2id hash at the policy's parameters (m = 19 MiB).
const POLICY_ARGON2_MIB: f64 = 19.0;

#[test]
fn every_container_requests_at_least_the_memory_it_was_measured_to_use() {
    let objects = objects(BASE);
    for expected in services() {
        let name = expected.compose_name;
        let deployment = find(&objects, "Deployment", name);
        let resources = container(deployment)
            .get("resources")
            .unwrap_or_else(|| panic!("{name} has no resources"));
        let request = |field: &str| {
            quantity_at(resources, &["requests", field])
                .unwrap_or_else(|| panic!("{name} requests no {field}"))
        };
        let (memory, cpu) = (request("memory"), request("cpu"));
        assert!(cpu > 0.0, "{name} requests some CPU");
        let limit = quantity_at(resources, &["limits", "memory"])
            .unwrap_or_else(|| panic!("{name} has no memory limit"));
        assert!(limit >= memory, "{name}: memory limit below the request");
        if let Some(cpu_limit) = quantity_at(resources, &["limits", "cpu"]) {
            assert!(cpu_limit >= cpu, "{name}: CPU limit below the request");
        }

        let (_, measured) = MEASURED_PEAK_RSS_MIB
            .iter()
            .find(|(service, _)| *service == name)
            .expect("a measured peak");
        let (mut floor, mut ceiling) = (*measured, *measured);
        if name == "account" {
            // Each concurrent hash holds its memory: the policy's 19 MiB,
            // or up to ARGON2_MAX_MEMORY_KIB for an imported hash.
            let hashes: f64 = super::settings::setting_value(
                &objects,
                deployment,
                "PASSWORD_HASHING_CONCURRENCY",
            )
            .expect(
                "account sets PASSWORD_HASHING_CONCURRENCY (0 would size it by the node's CPUs)",
            )
            .parse()
            .expect("a number");
            assert!(
                hashes >= 1.0,
                "account hashes at least one password at a time"
            );
            let max_kib: f64 =
                super::settings::setting_value(&objects, deployment, "ARGON2_MAX_MEMORY_KIB")
                    .or_else(|| {
                        expected
                            .settings
                            .iter()
                            .find(|setting| setting.env == "ARGON2_MAX_MEMORY_KIB")
                            .and_then(|setting| setting.default.clone())
                    })
                    .expect("ARGON2_MAX_MEMORY_KIB")
                    .parse()
                    .expect("KiB");
            floor += hashes * POLICY_ARGON2_MIB;
            ceiling += hashes * max_kib / 1024.0;
        }
        assert!(
            memory >= floor * MIB,
            "{name} requests {} MiB, below the {floor} MiB it was measured to need",
            memory / MIB
        );
        assert!(
            limit >= ceiling * MIB,
            "{name}'s memory limit {} MiB is below the {ceiling} MiB it can reach",
            limit / MIB
        );
    }
}
