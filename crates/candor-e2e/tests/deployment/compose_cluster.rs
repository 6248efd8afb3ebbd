//! deploy/compose.cluster.yml, the three-node RabbitMQ cluster for docker
//! compose, agrees with the code and with itself: the secrets it has
//! `candorctl dev-secrets` write give every service an `AMQP_URL` listing
//! the three nodes (which the platform parses as three nodes), the operator
//! one listing their published ports, the node names in
//! deploy/rabbitmq/cluster.conf are the nodes' hostnames, every node shares
//! the generated Erlang cookie, quorum queues are replicated on all three,
//! and the services wait for every node.

use std::collections::BTreeSet;

use candor_e2e::services;
use candor_platform::messaging::BrokerAddresses;
use clap::Parser;
use serde_yaml::Value;

use crate::compose::{
    GeneratedSecrets, compose_file, default_of, environment, secrets_mount, service, validate,
};
use crate::read;

const OVERLAY: &str = "deploy/compose.cluster.yml";
const CLUSTER_CONF: &str = "deploy/rabbitmq/cluster.conf";
/// The nodes' compose services, in the order of cluster.conf.
const NODES: [&str; 3] = ["rabbitmq", "rabbitmq-2", "rabbitmq-3"];
/// Where every node reads the cookie from (the candor-secrets volume).
const COOKIE: &str = "/run/secrets/candor/erlang_cookie";

/// `candorctl dev-secrets` as the overlay's `secrets` service runs it.
#[derive(Parser)]
struct DevSecrets {
    #[command(flatten)]
    args: candorctl::commands::dev_secrets::DevSecretsArgs,
}

/// Every `${NAME:-default}` in `text` replaced by its default.
fn with_defaults(text: &str) -> String {
    let mut result = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        result.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${…}") + start;
        result.push_str(&default_of(&rest[start..=end]));
        rest = &rest[end + 1..];
    }
    result.push_str(rest);
    result
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The secrets the overlay's `secrets` command writes, in a temporary
/// directory (removed on drop).
fn cluster_secrets(overlay: &Value) -> GeneratedSecrets {
    let command = strings(service(overlay, "secrets").get("command"));
    assert_eq!(
        command.first().map(String::as_str),
        Some("dev-secrets"),
        "{command:?}"
    );
    let dir = std::env::temp_dir().join(format!("candor-secrets-{}", uuid::Uuid::new_v4()));
    let mut args = vec!["candorctl".to_owned()];
    for arg in &command[1..] {
        args.push(with_defaults(arg));
    }
    let at = args
        .iter()
        .position(|arg| arg == "--dir")
        .expect("the secrets command names its --dir");
    args[at + 1] = dir.to_string_lossy().into_owned();
    let parsed = DevSecrets::try_parse_from(&args)
        .unwrap_or_else(|error| panic!("{OVERLAY}: dev-secrets rejects {args:?}: {error}"));
    candorctl::commands::dev_secrets::write(&parsed.args).expect("dev-secrets writes the secrets");
    GeneratedSecrets { dir }
}

/// A node's compose service as base and overlay merge it: the overlay's
/// keys win, volumes and ports add up.
fn merged_node(base: &Value, overlay: &Value, name: &str) -> (Value, Vec<Value>, Vec<String>) {
    let on_top = service(overlay, name).clone();
    let below = base
        .get("services")
        .and_then(|services| services.get(name))
        .cloned();
    let mut merged = below.clone().unwrap_or(Value::Null);
    if let (Some(merged), Some(on_top)) = (merged.as_mapping_mut(), on_top.as_mapping()) {
        for (key, value) in on_top {
            merged.insert(key.clone(), value.clone());
        }
    } else {
        merged = on_top.clone();
    }
    let mut volumes: Vec<Value> = Vec::new();
    let mut ports = Vec::new();
    for part in below.iter().chain([&on_top]) {
        volumes.extend(
            part.get("volumes")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .cloned(),
        );
        ports.extend(strings(part.get("ports")));
    }
    (merged, volumes, ports)
}

/// `host:container` of a short-syntax bind or volume.
fn short_volume(volume: &Value) -> Option<(String, String)> {
    let text = volume.as_str()?;
    let mut parts = text.split(':');
    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
}

/// `rabbit@<host>` of each `cluster_formation.classic_config.nodes.N`, in order.
fn classic_config_nodes(conf: &str) -> Vec<String> {
    let mut nodes: Vec<(u32, String)> = conf
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter_map(|(key, value)| {
            let index = key
                .trim()
                .strip_prefix("cluster_formation.classic_config.nodes.")?;
            Some((index.parse().ok()?, value.trim().to_owned()))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, node)| node).collect()
}

fn setting<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    conf.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(name, _)| name.trim() == key)
        .map(|(_, value)| value.trim())
}

#[test]
fn every_service_and_the_operator_reach_all_three_nodes() {
    let base = compose_file("docker-compose.yml");
    let overlay = compose_file(OVERLAY);
    let secrets = cluster_secrets(&overlay);
    let listener = setting(
        &read("deploy/rabbitmq/rabbitmq.conf"),
        "listeners.tcp.default",
    )
    .expect("rabbitmq.conf sets the AMQP listener")
    .to_owned();
    let expected: Vec<String> = NODES
        .iter()
        .map(|node| format!("{node}:{listener}"))
        .collect();
    for service_settings in services() {
        let name = service_settings.compose_name;
        let compose_service = service(&base, name);
        // The overlay changes no service setting: the URL comes from the secret.
        let settings = environment(compose_service);
        if let Err(line) = validate(name, compose_service, &secrets, &settings) {
            panic!("{OVERLAY}: {name} rejects its settings: {line}");
        }
        let (target, subpath) = secrets_mount(compose_service).expect("secrets mounted");
        let file = settings
            .iter()
            .find(|(key, _)| key == "AMQP_URL_FILE")
            .map(|(_, value)| default_of(value))
            .expect("AMQP_URL_FILE");
        let relative = file
            .strip_prefix(&format!("{target}/"))
            .expect("inside the mount");
        let url = std::fs::read_to_string(secrets.dir.join(&subpath).join(relative)).unwrap();
        let addresses = BrokerAddresses::parse(url.trim())
            .unwrap_or_else(|problem| panic!("{name}: AMQP_URL {problem}"));
        let labels: Vec<&str> = addresses.nodes().iter().map(|node| node.label()).collect();
        assert_eq!(labels, expected, "{name} lists every node, in order");
        assert_eq!(
            addresses.user(),
            format!("candor-{name}"),
            "{name}'s own user"
        );
    }

    // The operator, on the host, reaches each node through its published port.
    let operator = std::fs::read_to_string(secrets.dir.join("operator/amqp_url")).unwrap();
    let operator = BrokerAddresses::parse(operator.trim()).unwrap();
    let published: Vec<String> = NODES
        .iter()
        .map(|node| {
            let (_, _, ports) = merged_node(&base, &overlay, node);
            let port = ports
                .iter()
                .map(|port| with_defaults(port))
                .find_map(|port| {
                    let (host, container) = port.rsplit_once(':')?;
                    (container == listener).then(|| host.to_owned())
                })
                .unwrap_or_else(|| panic!("{node} publishes its AMQP port {listener}"));
            format!("127.0.0.1:{port}")
        })
        .collect();
    let labels: Vec<&str> = operator.nodes().iter().map(|node| node.label()).collect();
    assert_eq!(labels, published, "the operator reaches every node");
    assert_eq!(
        published.iter().collect::<BTreeSet<_>>().len(),
        NODES.len(),
        "each node on its own host port"
    );
}

#[test]
fn the_nodes_are_the_ones_cluster_conf_names_and_share_the_generated_cookie() {
    let base = compose_file("docker-compose.yml");
    let overlay = compose_file(OVERLAY);
    let conf = read(CLUSTER_CONF);
    assert_eq!(
        setting(&conf, "cluster_formation.peer_discovery_backend"),
        Some("classic_config")
    );
    let listed = classic_config_nodes(&conf);
    let secrets = cluster_secrets(&overlay);
    let mut hostnames = Vec::new();
    for node in NODES {
        let (merged, volumes, _) = merged_node(&base, &overlay, node);
        let hostname = merged
            .get("hostname")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{node} has a fixed hostname (its node name)"));
        hostnames.push(format!("rabbit@{hostname}"));
        let image = merged
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            image.starts_with("rabbitmq:4"),
            "{node} runs RabbitMQ 4: {image}"
        );

        let binds: Vec<(String, String)> = volumes.iter().filter_map(short_volume).collect();
        for (file, mounted) in [
            (
                "./deploy/rabbitmq/rabbitmq.conf",
                "/etc/rabbitmq/conf.d/20-candor.conf",
            ),
            (
                "./deploy/rabbitmq/cluster.conf",
                "/etc/rabbitmq/conf.d/30-cluster.conf",
            ),
            (
                "./deploy/rabbitmq/enabled_plugins",
                "/etc/rabbitmq/enabled_plugins",
            ),
        ] {
            assert!(
                binds.contains(&(file.to_owned(), mounted.to_owned())),
                "{node} mounts {file} at {mounted}: {binds:?}"
            );
        }
        let data: Vec<&(String, String)> = binds
            .iter()
            .filter(|(_, mounted)| mounted == "/var/lib/rabbitmq")
            .collect();
        assert_eq!(data.len(), 1, "{node} has one data volume");

        // The cookie: from the rabbitmq/ directory of the generated secrets,
        // installed where RabbitMQ reads it before the image's entrypoint.
        let mut node_service = Value::Mapping(Default::default());
        if let Some(mapping) = node_service.as_mapping_mut() {
            mapping.insert("volumes".into(), Value::Sequence(volumes.clone()));
        }
        let (target, subpath) = secrets_mount(&node_service)
            .unwrap_or_else(|| panic!("{node} mounts the candor-secrets volume"));
        assert_eq!(
            (target.as_str(), subpath.as_str()),
            ("/run/secrets/candor", "rabbitmq")
        );
        let relative = COOKIE.strip_prefix("/run/secrets/candor/").unwrap();
        let cookie = std::fs::read_to_string(secrets.dir.join(&subpath).join(relative))
            .unwrap_or_else(|error| panic!("dev-secrets writes the cookie {node} reads: {error}"));
        assert!(cookie.trim().len() >= 32, "a long random cookie");
        let entrypoint = strings(merged.get("entrypoint")).join(" ");
        assert!(
            entrypoint.contains(&format!("{COOKIE} /var/lib/rabbitmq/.erlang.cookie"))
                && entrypoint.contains("-m 0400")
                && entrypoint.contains("-o rabbitmq")
                && entrypoint.ends_with("exec docker-entrypoint.sh rabbitmq-server"),
            "{node} installs the shared cookie, then runs the image's entrypoint: {entrypoint}"
        );
        let depends: Vec<String> = merged
            .get("depends_on")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(name, _)| name.as_str().map(str::to_owned))
            .collect();
        assert!(
            depends.contains(&"secrets".to_owned()),
            "{node} waits for its secrets"
        );
    }
    assert_eq!(
        listed, hostnames,
        "{CLUSTER_CONF} lists exactly the nodes, in order"
    );
    let volumes: Vec<&str> = overlay
        .get("volumes")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(volumes, ["rabbitmq-2-data", "rabbitmq-3-data"]);
}

#[test]
fn quorum_queues_are_replicated_on_the_three_nodes() {
    let base = compose_file("docker-compose.yml");
    let overlay = compose_file(OVERLAY);
    let conf = read(CLUSTER_CONF);
    assert_eq!(
        setting(
            &conf,
            "quorum_queue.continuous_membership_reconciliation.enabled"
        ),
        Some("true")
    );
    assert_eq!(
        setting(
            &conf,
            "quorum_queue.continuous_membership_reconciliation.target_group_size"
        ),
        Some(NODES.len().to_string().as_str()),
        "a replica on every node"
    );
    // The services declare quorum queues, and so do the generated definitions.
    for service_settings in services() {
        let settings = environment(service(&base, service_settings.compose_name));
        let queue_type = settings
            .iter()
            .find(|(key, _)| key == "AMQP_QUEUE_TYPE")
            .map(|(_, value)| default_of(value));
        assert_eq!(
            queue_type.as_deref(),
            Some("quorum"),
            "{}",
            service_settings.compose_name
        );
    }
    let secrets = cluster_secrets(&overlay);
    let definitions: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(secrets.dir.join("rabbitmq/definitions.json")).unwrap(),
    )
    .unwrap();
    let queues = definitions["queues"].as_array().expect("queues");
    assert!(!queues.is_empty());
    for queue in queues {
        assert_eq!(queue["arguments"]["x-queue-type"], "quorum", "{queue}");
    }
}

#[test]
fn every_service_waits_for_every_node() {
    let overlay = compose_file(OVERLAY);
    for service_settings in services() {
        let name = service_settings.compose_name;
        let depends = service(&overlay, name)
            .get("depends_on")
            .and_then(Value::as_mapping)
            .unwrap_or_else(|| panic!("{OVERLAY}: {name} waits for the nodes"));
        for node in NODES {
            let condition = depends
                .get(node)
                .and_then(|dependency| dependency.get("condition"))
                .and_then(Value::as_str);
            assert_eq!(
                condition,
                Some("service_healthy"),
                "{name} waits for {node}"
            );
        }
    }
}
