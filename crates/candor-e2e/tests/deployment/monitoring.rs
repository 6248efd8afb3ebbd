//! The monitoring files agree with compose and with each other: every
//! Candor scrape job finds every replica of its compose service at the port
//! its `METRICS_ADDR` says, Prometheus and Grafana mount
//! what exists in the repository, the dashboards use the provisioned data
//! source, and the exporter and Grafana read secrets `dev-secrets` writes.

use std::collections::BTreeSet;
use std::path::Path;

use candor_e2e::services;
use serde_yaml::Value;

use crate::compose::{
    GeneratedSecrets, compose_file, default_of, environment, secrets_mount, service,
};
use crate::{read, repo_root};

/// The scrape jobs METRICS_SPEC.md fixes, with their compose targets.
const JOBS: [(&str, &str); 6] = [
    ("candor-account", "account:9451"),
    ("candor-notification", "notification:9452"),
    ("candor-membership", "membership:9453"),
    ("candor-forum", "forum:9454"),
    ("rabbitmq", "rabbitmq:15692"),
    ("postgres", "postgres-exporter:9187"),
];

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|error| panic!("{path} parses: {error}"))
}

fn strings(value: Option<&Value>) -> Vec<String> {
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

/// One scrape job of `prometheus.yml`.
struct ScrapeJob {
    name: String,
    /// `host:port` of its static targets and, for DNS discovery, of each
    /// name it resolves (every address the name has, at that port).
    targets: Vec<String>,
    /// Whether the targets are found through DNS (every replica) rather
    /// than given (one address).
    by_dns: bool,
}

/// Each scrape job of `prometheus.yml`.
fn scrape_jobs() -> Vec<ScrapeJob> {
    let config = yaml("deploy/prometheus/prometheus.yml");
    config
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .expect("scrape_configs")
        .iter()
        .map(|job| {
            let name = job
                .get("job_name")
                .and_then(Value::as_str)
                .expect("job_name")
                .to_owned();
            let sequence = |key: &str| {
                job.get(key)
                    .and_then(Value::as_sequence)
                    .cloned()
                    .unwrap_or_default()
            };
            let mut targets: Vec<String> = sequence("static_configs")
                .iter()
                .flat_map(|config| strings(config.get("targets")))
                .collect();
            let discovered = sequence("dns_sd_configs");
            for config in &discovered {
                assert_eq!(
                    config.get("type").and_then(Value::as_str),
                    Some("A"),
                    "job {name}: A records, one per replica (SRV needs no port but Docker serves none)"
                );
                let port = config
                    .get("port")
                    .and_then(Value::as_u64)
                    .unwrap_or_else(|| panic!("job {name}: dns_sd_configs without a port"));
                targets.extend(
                    strings(config.get("names"))
                        .into_iter()
                        .map(|host| format!("{host}:{port}")),
                );
            }
            ScrapeJob {
                name,
                targets,
                by_dns: !discovered.is_empty(),
            }
        })
        .collect()
}

/// The port of `host:port`.
fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{address} has a port"))
}

/// The ports a compose service publishes, as `host:container` strings.
fn published(service: &Value) -> Vec<String> {
    strings(service.get("ports"))
}

/// `(host path, container path)` of each bind mount (`./x:/y[:ro]`).
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    strings(service.get("volumes"))
        .into_iter()
        .filter(|volume| volume.starts_with("./"))
        .map(|volume| {
            let mut parts = volume.split(':');
            let host = parts.next().expect("host path").to_owned();
            let container = parts.next().expect("container path").to_owned();
            (host, container)
        })
        .collect()
}

#[test]
fn the_scrape_jobs_are_the_ones_the_contract_names() {
    let jobs = scrape_jobs();
    let names: Vec<&str> = jobs.iter().map(|job| job.name.as_str()).collect();
    let expected: Vec<&str> = JOBS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names, expected,
        "prometheus.yml's jobs (the alerts, dashboards and the end-to-end test select by them)"
    );
    for (name, target) in JOBS {
        let job = jobs.iter().find(|job| job.name == name).expect("job");
        assert_eq!(job.targets, [target.to_owned()], "targets of job {name}");
    }
    let config = yaml("deploy/prometheus/prometheus.yml");
    for rule_file in strings(config.get("rule_files")) {
        assert!(
            repo_root()
                .join("deploy/prometheus")
                .join(&rule_file)
                .is_file(),
            "rule file {rule_file} exists beside prometheus.yml"
        );
    }
}

#[test]
fn every_candor_job_scrapes_every_replica_of_its_service_at_the_port_its_metrics_addr_says() {
    let document = compose_file("docker-compose.yml");
    let jobs = scrape_jobs();
    for expected in services() {
        let name = expected.compose_name;
        let service = service(&document, name);
        let metrics_addr = environment(service)
            .into_iter()
            .find(|(variable, _)| variable == "METRICS_ADDR")
            .map(|(_, value)| default_of(&value))
            .unwrap_or_else(|| panic!("{name} sets no METRICS_ADDR"));
        let port = port_of(&metrics_addr);
        let job_name = format!("candor-{name}");
        let job = jobs
            .iter()
            .find(|job| job.name == job_name)
            .unwrap_or_else(|| panic!("prometheus.yml has no job {job_name}"));
        assert_eq!(
            job.targets,
            [format!("{name}:{port}")],
            "job {job_name} scrapes {name} at its METRICS_ADDR {metrics_addr}"
        );
        // A static `name:port` target would scrape one replica, a different
        // one at each scrape, when the service is scaled.
        assert!(
            job.by_dns,
            "job {job_name} finds every replica of {name} through DNS (dns_sd_configs), not one static target"
        );
        // Published on a free host port per replica (never a fixed one,
        // which would stop `--scale`), for a look from the host.
        assert!(
            published(service)
                .iter()
                .any(|mapping| mapping.ends_with(&format!("::{port}"))),
            "{name} publishes its metrics port {port} on a free host port: {:?}",
            published(service)
        );
    }
}

#[test]
fn the_infrastructure_jobs_target_compose_services_that_serve_metrics() {
    let document = compose_file("docker-compose.yml");
    for (job, target) in &JOBS[4..] {
        let (host, _) = target.split_once(':').expect("host:port");
        service(&document, host);
        assert!(
            scrape_jobs().iter().any(|scrape| scrape.name == *job),
            "job {job}"
        );
    }
    let plugins = read("deploy/rabbitmq/enabled_plugins");
    assert!(
        plugins.contains("rabbitmq_prometheus"),
        "RabbitMQ serves metrics on 15692: {plugins}"
    );
    let config = read("deploy/rabbitmq/rabbitmq.conf");
    assert!(
        config
            .lines()
            .any(|line| line.replace(' ', "") == "prometheus.return_per_object_metrics=true"),
        "per-queue series for the dashboards' queue depths"
    );
    let exporter = service(&document, "postgres-exporter");
    let condition = exporter
        .get("depends_on")
        .and_then(|depends| depends.get("postgres"))
        .and_then(|dependency| dependency.get("condition"))
        .and_then(Value::as_str);
    assert_eq!(condition, Some("service_healthy"));
}

#[test]
fn prometheus_mounts_its_configuration_and_grafana_its_provisioning_and_dashboards() {
    let document = compose_file("docker-compose.yml");
    let prometheus = service(&document, "prometheus");
    let command = strings(prometheus.get("command"));
    let config_file = command
        .iter()
        .find_map(|argument| argument.strip_prefix("--config.file="))
        .expect("prometheus is given --config.file");
    let (host, container) = bind_mounts(prometheus)
        .into_iter()
        .find(|(_, container)| config_file.starts_with(&format!("{container}/")))
        .expect("the config file's directory is mounted");
    let relative = config_file.trim_start_matches(&format!("{container}/"));
    assert_eq!(
        Path::new(&host).join(relative),
        Path::new("./deploy/prometheus/prometheus.yml")
    );

    let grafana = service(&document, "grafana");
    let mounts = bind_mounts(grafana);
    for (host, _) in &mounts {
        assert!(
            repo_root().join(host).exists(),
            "grafana mounts {host}, which is not in the repository"
        );
    }
    let mounted_from = |container: &str| {
        mounts
            .iter()
            .find(|(_, target)| target == container)
            .map(|(host, _)| host.clone())
            .unwrap_or_else(|| panic!("grafana mounts nothing at {container}"))
    };
    assert_eq!(
        mounted_from("/etc/grafana/provisioning"),
        "./deploy/grafana/provisioning"
    );
    // The dashboard provider reads the directory the dashboards are mounted at.
    let providers = yaml("deploy/grafana/provisioning/dashboards/candor.yml");
    let path = providers
        .get("providers")
        .and_then(Value::as_sequence)
        .and_then(|providers| providers.first())
        .and_then(|provider| provider.get("options"))
        .and_then(|options| options.get("path"))
        .and_then(Value::as_str)
        .expect("the dashboard provider's path");
    assert_eq!(mounted_from(path), "./deploy/grafana/dashboards");

    let environment = environment(grafana);
    let setting = |name: &str| {
        environment
            .iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| default_of(value))
            .unwrap_or_else(|| panic!("grafana sets no {name}"))
    };
    assert_eq!(setting("GF_AUTH_ANONYMOUS_ENABLED"), "false");
    let home = setting("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
    let home = home
        .strip_prefix(&format!("{path}/"))
        .expect("the home dashboard is a provisioned one");
    assert!(
        repo_root()
            .join("deploy/grafana/dashboards")
            .join(home)
            .is_file(),
        "home dashboard {home}"
    );
}

/// The file a `*_FILE` variable of a compose service names, in the secrets
/// `dev-secrets` generated, after the service's mount of the volume.
fn secret_file(secrets: &GeneratedSecrets, service: &Value, variable: &str) -> std::path::PathBuf {
    let value = environment(service)
        .into_iter()
        .find(|(name, _)| name == variable)
        .map(|(_, value)| default_of(&value))
        .unwrap_or_else(|| panic!("no {variable}"));
    let (target, subpath) = secrets_mount(service).expect("mounts the secrets volume");
    let relative = value
        .strip_prefix(&format!("{target}/"))
        .unwrap_or_else(|| panic!("{variable} is outside the secrets mount {target}"));
    secrets.dir.join(subpath).join(relative)
}

#[test]
fn the_exporter_and_grafana_read_secrets_dev_secrets_writes() {
    let document = compose_file("docker-compose.yml");
    let secrets = GeneratedSecrets::new();
    let grafana = secret_file(
        &secrets,
        service(&document, "grafana"),
        "GF_SECURITY_ADMIN_PASSWORD__FILE",
    );
    let grafana = std::fs::read_to_string(&grafana)
        .unwrap_or_else(|error| panic!("{}: {error}", grafana.display()));
    assert_eq!(
        std::fs::read_to_string(secrets.dir.join("operator/grafana_admin_password")).unwrap(),
        grafana,
        "the operator has Grafana's admin password"
    );
    let exporter = service(&document, "postgres-exporter");
    let password = secret_file(&secrets, exporter, "DATA_SOURCE_PASS_FILE");
    let password = std::fs::read_to_string(&password)
        .unwrap_or_else(|error| panic!("{}: {error}", password.display()));
    // postgres mounts its own directory: the role's password is the same.
    assert_eq!(
        std::fs::read_to_string(secrets.dir.join("postgres/monitoring_password")).unwrap(),
        password
    );
    let user = environment(exporter)
        .into_iter()
        .find(|(name, _)| name == "DATA_SOURCE_USER")
        .map(|(_, value)| default_of(&value))
        .expect("DATA_SOURCE_USER");
    assert_eq!(
        user, "candor_monitoring",
        "the role monitoring-role.sh creates"
    );
    let postgres = service(&document, "postgres");
    let script = bind_mounts(postgres)
        .into_iter()
        .find(|(host, _)| host == "./deploy/postgres/monitoring-role.sh")
        .map(|(_, container)| container)
        .expect("postgres runs monitoring-role.sh");
    assert!(
        script.starts_with("/docker-entrypoint-initdb.d/"),
        "{script}"
    );
}

/// The provisioned data source's uid and URL.
fn provisioned_data_source() -> (String, String) {
    let provisioning = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    let source = provisioning
        .get("datasources")
        .and_then(Value::as_sequence)
        .and_then(|sources| sources.first())
        .expect("a data source");
    let field = |name: &str| {
        source
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("data source {name}"))
            .to_owned()
    };
    (field("uid"), field("url"))
}

/// Every dashboard of `deploy/grafana/dashboards`, with its file name.
pub(crate) fn dashboards() -> Vec<(String, serde_json::Value)> {
    let dir = repo_root().join("deploy/grafana/dashboards");
    let mut dashboards: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .expect("deploy/grafana/dashboards")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("dashboard");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let dashboard = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{name} is JSON: {error}"));
            (name, dashboard)
        })
        .collect();
    dashboards.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(dashboards.len() >= 2, "the dashboards are there");
    dashboards
}

/// Every panel of a dashboard, those inside rows included.
pub(crate) fn panels(container: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut found = Vec::new();
    for panel in container["panels"].as_array().into_iter().flatten() {
        found.push(panel);
        found.extend(panels(panel));
    }
    found
}

#[test]
fn the_dashboards_query_the_provisioned_prometheus() {
    let (uid, url) = provisioned_data_source();
    let document = compose_file("docker-compose.yml");
    let prometheus = service(&document, "prometheus");
    let host = url
        .strip_prefix("http://")
        .expect("the data source URL is http://host:port");
    let (name, port) = host.split_once(':').expect("host:port");
    assert_eq!(name, "prometheus", "the compose service");
    assert!(
        published(prometheus)
            .iter()
            .any(|mapping| mapping.ends_with(&format!(":{port}"))),
        "Prometheus listens on {port}"
    );
    let mut titles = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        assert!(
            titles.insert(dashboard["title"].as_str().expect("title").to_owned()),
            "{file}: two dashboards with one title"
        );
        let variables = dashboard["templating"]["list"].as_array().cloned();
        for variable in variables.into_iter().flatten() {
            assert_eq!(
                variable["datasource"]["uid"],
                uid.as_str(),
                "{file}: variable"
            );
        }
        for panel in panels(&dashboard) {
            if panel["type"] == "row" {
                continue;
            }
            let title = panel["title"].as_str().unwrap_or("?");
            assert_eq!(panel["datasource"]["uid"], uid.as_str(), "{file}: {title}");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: {title} queries nothing");
            for target in targets {
                assert_eq!(target["datasource"]["uid"], uid.as_str(), "{file}: {title}");
            }
        }
    }
}
