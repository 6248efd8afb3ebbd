//! deploy/compose.tls.yml, the TLS switch for docker compose, agrees with
//! the code: over docker-compose.yml each service's settings still pass its
//! own validation, every service URL is https, every healthcheck asks its
//! own port over TLS, and the certificate files are where the volume puts
//! them.

use candor_e2e::services;
use serde_yaml::Value;

use crate::compose::{
    GeneratedSecrets, compose_file, default_of, environment, healthcheck_test, service, validate,
};

const OVERLAY: &str = "deploy/compose.tls.yml";
const MOUNT: &str = "/etc/candor/tls";

/// The base environment with the overlay's values on top, as compose merges them.
fn merged_environment(base: &Value, overlay: &Value, name: &str) -> Vec<(String, String)> {
    let mut merged = environment(service(base, name));
    for (key, value) in environment(service(overlay, name)) {
        match merged.iter_mut().find(|(existing, _)| *existing == key) {
            Some(entry) => entry.1 = value,
            None => merged.push((key, value)),
        }
    }
    merged
}

#[test]
fn the_tls_overlay_switches_every_service_to_mutual_tls() {
    let base = compose_file("docker-compose.yml");
    let overlay = compose_file(OVERLAY);
    let secrets = GeneratedSecrets::new();
    for expected in services() {
        let name = expected.compose_name;
        let merged = merged_environment(&base, &overlay, name);
        if let Err(line) = validate(name, service(&base, name), &secrets, &merged) {
            panic!("{OVERLAY} over docker-compose.yml: {name} rejects its settings: {line}");
        }
        let value = |key: &str| {
            merged
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| default_of(value))
                .unwrap_or_else(|| panic!("{OVERLAY}: {name} does not set {key}"))
        };
        assert_eq!(value("GRPC_TLS_REQUIRE_CLIENT_CERT"), "true", "{name}");
        for key in [
            "GRPC_TLS_CERT_FILE",
            "GRPC_TLS_KEY_FILE",
            "GRPC_TLS_CA_FILE",
        ] {
            assert!(
                value(key).starts_with(&format!("{MOUNT}/")),
                "{name}: {key} is outside the mounted {MOUNT}"
            );
        }
        for (key, url) in &merged {
            if key.ends_with("_GRPC_URL") {
                assert!(
                    default_of(url).starts_with("https://"),
                    "{name}: {key} is {url}, not https"
                );
            }
        }

        let overlay_service = service(&overlay, name);
        let volumes: Vec<&str> = overlay_service
            .get("volumes")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{OVERLAY}: {name} mounts no certificates"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            volumes
                .iter()
                .any(|volume| volume.split(':').nth(1) == Some(MOUNT)),
            "{name} mounts {MOUNT}: {volumes:?}"
        );
        let own = format!("https://localhost:{}", expected.default_port);
        assert_eq!(
            healthcheck_test(overlay_service),
            ["CMD", "candorctl", "health", "--addr", own.as_str()],
            "{name} healthcheck asks its own port over TLS"
        );
    }
}
