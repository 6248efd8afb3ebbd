//! `docker compose up --scale <service>=N` works for every Candor service:
//! nothing in a service's definition is fixed per container (a host port, a
//! container name), and the host's way in, haproxy, forwards each stable
//! gRPC port to whichever replicas of its service run.

use candor_e2e::services;
use serde_yaml::Value;

use crate::compose::{compose_file, default_of, environment, service};
use crate::read;

/// One `ports:` entry of a compose service.
#[derive(Debug)]
struct PublishedPort {
    /// The host port (or range), empty when Docker picks a free one.
    host: String,
    /// The container port.
    container: String,
}

/// `${NAME:-default}` replaced by `default` wherever it appears in `text`.
fn with_defaults(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|offset| start + offset)
            .unwrap_or_else(|| panic!("unclosed variable in {text:?}"));
        out.push_str(&default_of(&rest[start..=end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every port a service publishes, in the short syntax
/// (`[IP:][HOST:]CONTAINER[/PROTOCOL]`, variables at their defaults) or the
/// long one (`target`, `published`).
fn published_ports(service: &Value) -> Vec<PublishedPort> {
    let Some(ports) = service.get("ports").and_then(Value::as_sequence) else {
        return Vec::new();
    };
    ports
        .iter()
        .map(|entry| match entry {
            Value::Mapping(_) => PublishedPort {
                host: match entry.get("published") {
                    Some(Value::String(text)) => with_defaults(text),
                    Some(Value::Number(number)) => number.to_string(),
                    _ => String::new(),
                },
                container: match entry.get("target") {
                    Some(Value::Number(number)) => number.to_string(),
                    Some(Value::String(text)) => with_defaults(text),
                    other => panic!("a long-syntax port without a target: {other:?}"),
                },
            },
            Value::String(text) => parse_short_port(&with_defaults(text)),
            Value::Number(number) => PublishedPort {
                host: String::new(),
                container: number.to_string(),
            },
            other => panic!("unexpected ports entry {other:?}"),
        })
        .collect()
}

fn parse_short_port(text: &str) -> PublishedPort {
    let without_protocol = text.split('/').next().unwrap_or(text);
    // An IPv6 host address is bracketed; what follows it is HOST:CONTAINER.
    let without_ip = match without_protocol.strip_prefix('[') {
        Some(rest) => rest
            .split_once("]:")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("bad IPv6 port mapping {text:?}")),
        None => without_protocol,
    };
    let parts: Vec<&str> = without_ip.split(':').collect();
    match parts.as_slice() {
        [container] => PublishedPort {
            host: String::new(),
            container: (*container).to_owned(),
        },
        [host, container] => PublishedPort {
            host: (*host).to_owned(),
            container: (*container).to_owned(),
        },
        [_ip, host, container] => PublishedPort {
            host: (*host).to_owned(),
            container: (*container).to_owned(),
        },
        _ => panic!("unrecognised port mapping {text:?}"),
    }
}

#[test]
fn port_mappings_are_read_as_docker_reads_them() {
    let cases = [
        ("9452", "", "9452"),
        ("127.0.0.1::9452", "", "9452"),
        ("${NOTIFICATION_PORT:-50052}:50052", "50052", "50052"),
        ("127.0.0.1:50052:50052/tcp", "50052", "50052"),
        ("50052-50059:50052", "50052-50059", "50052"),
        ("[::1]:9452:9452", "9452", "9452"),
        ("[::1]::9452", "", "9452"),
    ];
    for (text, host, container) in cases {
        let port = parse_short_port(&with_defaults(text));
        assert_eq!(
            (port.host.as_str(), port.container.as_str()),
            (host, container),
            "{text}"
        );
    }
}

#[test]
fn no_candor_service_has_anything_two_replicas_would_collide_on() {
    let document = compose_file("docker-compose.yml");
    for expected in services() {
        let name = expected.compose_name;
        let service = service(&document, name);
        // A fixed container name exists once per Docker host: the second
        // replica would not be created.
        assert!(
            service.get("container_name").is_none(),
            "{name} has a container_name, so `--scale {name}=2` fails"
        );
        // So does a host port: the second replica could not bind it.
        for port in published_ports(service) {
            assert!(
                port.host.is_empty(),
                "{name} publishes container port {} on the fixed host port {}, so `--scale {name}=2` fails \
                 (publish it without a host port, or reach it through haproxy)",
                port.container,
                port.host
            );
        }
        // Host networking binds the service's ports on the host itself.
        assert!(
            service.get("network_mode").is_none(),
            "{name} sets network_mode; replicas need their own network namespace"
        );
    }
}

/// One `listen` section of haproxy.cfg: its name, the port it binds, and
/// the `server-template` that fills it (`<prefix> <range> <host>:<port>`
/// and the options after it).
#[derive(Debug, Default)]
struct Listener {
    name: String,
    bind_port: Option<u16>,
    template: Vec<String>,
}

fn haproxy_listeners(config: &str) -> Vec<Listener> {
    let mut listeners: Vec<Listener> = Vec::new();
    for line in config.lines() {
        let line = line.split('#').next().unwrap_or("").trim_end();
        let words: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(char::is_whitespace) {
            if let ["listen", name] = words.as_slice() {
                listeners.push(Listener {
                    name: (*name).to_owned(),
                    ..Listener::default()
                });
            }
            continue;
        }
        let Some(listener) = listeners.last_mut() else {
            continue;
        };
        match words.as_slice() {
            ["bind", address, ..] => {
                listener.bind_port = address.rsplit(':').next().and_then(|p| p.parse().ok());
            }
            ["server-template", rest @ ..] => {
                listener.template = rest.iter().map(|word| (*word).to_owned()).collect();
            }
            _ => {}
        }
    }
    listeners
}

#[test]
fn haproxy_publishes_each_services_grpc_port_and_forwards_it_to_every_replica() {
    let document = compose_file("docker-compose.yml");
    let haproxy = service(&document, "haproxy");
    let mounts: Vec<String> = haproxy
        .get("volumes")
        .and_then(Value::as_sequence)
        .expect("haproxy mounts its configuration")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    assert!(
        mounts.contains(
            &"./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro".to_owned()
        ),
        "haproxy reads deploy/haproxy/haproxy.cfg where the image looks: {mounts:?}"
    );
    let config = read("deploy/haproxy/haproxy.cfg");
    assert!(
        config.contains("nameserver docker 127.0.0.11:53"),
        "haproxy resolves replicas through Docker's embedded DNS"
    );
    let listeners = haproxy_listeners(&config);
    let published = published_ports(haproxy);
    for expected in services() {
        let name = expected.compose_name;
        let grpc_addr = environment(service(&document, name))
            .into_iter()
            .find(|(variable, _)| variable == "GRPC_ADDR")
            .map(|(_, value)| default_of(&value))
            .unwrap_or_else(|| panic!("{name} sets no GRPC_ADDR"));
        let grpc_port = grpc_addr.rsplit(':').next().expect("a port");
        let listener = listeners
            .iter()
            .find(|listener| listener.name == name)
            .unwrap_or_else(|| panic!("haproxy.cfg has no `listen {name}`"));
        let bind_port = listener
            .bind_port
            .unwrap_or_else(|| panic!("listen {name} binds no port"));
        assert_eq!(
            bind_port, expected.default_port,
            "listen {name} binds the service's documented port"
        );
        match listener.template.as_slice() {
            [_, range, target, options @ ..] => {
                assert_eq!(
                    target,
                    &format!("{name}:{grpc_port}"),
                    "listen {name} forwards to the service's replicas at their GRPC_ADDR port"
                );
                let slots: Vec<u32> = range
                    .split('-')
                    .filter_map(|bound| bound.parse().ok())
                    .collect();
                assert!(
                    matches!(slots.as_slice(), [1, last] if *last >= 8),
                    "listen {name} has room for at least 8 replicas: {range}"
                );
                let options = options.join(" ");
                for option in ["check", "resolvers docker", "init-addr none"] {
                    assert!(
                        options.contains(option),
                        "listen {name}'s server-template has `{option}`: {options}"
                    );
                }
            }
            other => panic!("listen {name} has no server-template filled by DNS: {other:?}"),
        }
        assert!(
            published
                .iter()
                .any(|port| port.host == expected.default_port.to_string()
                    && port.container == bind_port.to_string()),
            "haproxy publishes {name}'s port {} on the host: {published:?}",
            expected.default_port
        );
    }
}
