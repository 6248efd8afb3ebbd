//! A real Prometheus for the test: the repository's own scrape
//! configuration (`deploy/prometheus/prometheus.yml`) and alerting rules
//! (the `rule_files` it names), pointed at the in-process stack's metrics
//! endpoints and sped up to one-second intervals, run as a child process
//! and asked through its HTTP API. So the job names, the metric names and
//! the alert expressions are checked by the program that evaluates them in
//! production, not by a copy of their logic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_yaml::Value;

/// How long Prometheus may take to start and replay its (empty) storage.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The repository's `deploy/prometheus` directory.
pub fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
}

/// The repository's `prometheus.yml` as the test runs it: each job named in
/// `targets` scrapes only its address there (instead of the replicas
/// compose finds by DNS), the jobs of exporters this
/// test does not run (RabbitMQ's, PostgreSQL's) are dropped, scrapes and
/// rule evaluations happen every `interval`, and the rule files are the
/// repository's, by absolute path. Fails when the file lacks a job of
/// `targets`.
pub fn test_config(
    targets: &BTreeMap<String, SocketAddr>,
    interval: &str,
) -> anyhow::Result<String> {
    let dir = deploy_dir()
        .canonicalize()
        .context("finding deploy/prometheus")?;
    let path = dir.join("prometheus.yml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut config: Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let root = config
        .as_mapping_mut()
        .context("prometheus.yml is not a mapping")?;

    let global = root
        .entry("global".into())
        .or_insert_with(|| Value::Mapping(Default::default()));
    let global = global
        .as_mapping_mut()
        .context("`global` is not a mapping")?;
    global.insert("scrape_interval".into(), interval.into());
    global.insert("evaluation_interval".into(), interval.into());

    let rule_files = root
        .get_mut("rule_files")
        .and_then(Value::as_sequence_mut)
        .context("prometheus.yml has no rule_files")?;
    for rule_file in rule_files.iter_mut() {
        let relative = rule_file.as_str().context("a rule file is not a string")?;
        let absolute = dir.join(relative);
        ensure!(
            absolute.is_file(),
            "prometheus.yml names the rule file {relative}, which is not in {}",
            dir.display()
        );
        *rule_file = absolute.display().to_string().into();
    }

    let jobs = root
        .get_mut("scrape_configs")
        .and_then(Value::as_sequence_mut)
        .context("prometheus.yml has no scrape_configs")?;
    let mut found = Vec::new();
    let mut kept = Vec::new();
    for mut job in jobs.drain(..) {
        let name = job
            .get("job_name")
            .and_then(Value::as_str)
            .context("a scrape config without job_name")?
            .to_owned();
        let Some(addr) = targets.get(&name) else {
            eprintln!(
                "prometheus.yml: job {name} is not run by this test (its exporter is not here)"
            );
            continue;
        };
        let job_map = job
            .as_mapping_mut()
            .with_context(|| format!("job {name} is not a mapping"))?;
        // The job's own intervals, if it had any, yield to the test's.
        job_map.remove("scrape_interval");
        job_map.remove("scrape_timeout");
        // Compose finds the replicas through Docker's DNS; here the one
        // address is given.
        job_map.remove("dns_sd_configs");
        let static_config: Value = serde_yaml::from_str(&format!("targets: [\"{addr}\"]"))?;
        job_map.insert(
            "static_configs".into(),
            Value::Sequence(vec![static_config]),
        );
        found.push(name);
        kept.push(job);
    }
    *jobs = kept;
    for job in targets.keys() {
        ensure!(
            found.contains(job),
            "{} has no scrape job {job} (METRICS_SPEC.md, \"Scrape jobs\")",
            path.display()
        );
    }
    serde_yaml::to_string(&config).context("writing the test's prometheus.yml")
}

/// One series of an instant query's answer.
#[derive(Debug, Clone)]
pub struct Series {
    /// The series' labels (`__name__`, `job`, `instance`, …).
    pub labels: BTreeMap<String, String>,
    /// Its value at the query's time.
    pub value: f64,
}

/// One pending or firing alert.
#[derive(Debug, Clone)]
pub struct Alert {
    /// `pending` or `firing`.
    pub state: String,
    /// Its labels, `alertname` among them.
    pub labels: BTreeMap<String, String>,
}

impl Alert {
    /// The alert's name.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// A `prometheus` process of its own, on a free port with its own storage
/// in a scratch directory; killed (and the directory removed) on drop.
pub struct PrometheusServer {
    child: Child,
    base_url: String,
    dir: PathBuf,
}

impl PrometheusServer {
    /// Starts `prometheus` with `config` and waits until it is ready.
    pub async fn start(config: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "candor-prometheus-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(dir.join("data"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config)?;
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let port = candor_testkit::binary::free_port()?;
        let spawned = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_dir_all(&dir);
                bail!(
                    "prometheus is not installed, so Candor cannot be watched by a real one: \
                     install it with `apt-get install prometheus` (Debian's package; \
                     scripts/check-monitoring does it in CI)"
                )
            }
            Err(error) => return Err(error).context("starting prometheus"),
        };
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        server.wait_until_ready().await?;
        Ok(server)
    }

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/-/ready", self.base_url);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "prometheus exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            let probe = url.clone();
            let ready = tokio::task::spawn_blocking(move || {
                ureq::get(&probe)
                    .call()
                    .is_ok_and(|response| response.status() == 200)
            })
            .await?;
            if ready {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "prometheus was not ready within {READY_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What Prometheus logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/{path}` with `query`: the answer's `data`.
    async fn api(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}/api/v1/{path}", self.base_url);
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let body = tokio::task::spawn_blocking(move || {
            let mut response = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .http_status_as_error(false)
                .build()
                .new_agent()
                .get(&url)
                .query_pairs(
                    pairs
                        .iter()
                        .map(|(name, value)| (name.as_str(), value.as_str())),
                )
                .call()
                .with_context(|| format!("GET {url}"))?;
            response
                .body_mut()
                .read_to_string()
                .with_context(|| format!("reading {url}"))
        })
        .await??;
        let answer: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("the API answered {body}"))?;
        ensure!(
            answer["status"] == "success",
            "/api/v1/{path} {query:?} failed: {body}"
        );
        Ok(answer["data"].clone())
    }

    /// The instant vector `expr` evaluates to now.
    pub async fn query(&self, expr: &str) -> anyhow::Result<Vec<Series>> {
        let data = self.api("query", &[("query", expr)]).await?;
        ensure!(
            data["resultType"] == "vector",
            "{expr} is not an instant vector: {data}"
        );
        data["result"]
            .as_array()
            .context("no result")?
            .iter()
            .map(|series| {
                let value = series["value"][1]
                    .as_str()
                    .context("a sample without a value")?;
                Ok(Series {
                    labels: string_map(&series["metric"]),
                    value: value
                        .parse()
                        .with_context(|| format!("{value} is not a number"))?,
                })
            })
            .collect()
    }

    /// Every pending or firing alert.
    pub async fn alerts(&self) -> anyhow::Result<Vec<Alert>> {
        let data = self.api("alerts", &[]).await?;
        Ok(data["alerts"]
            .as_array()
            .context("no alerts list")?
            .iter()
            .map(|alert| Alert {
                state: alert["state"].as_str().unwrap_or_default().to_owned(),
                labels: string_map(&alert["labels"]),
            })
            .collect())
    }

    /// When each rule group was last evaluated, by group name.
    pub async fn rule_group_evaluations(
        &self,
    ) -> anyhow::Result<BTreeMap<String, chrono::DateTime<chrono::Utc>>> {
        let data = self.api("rules", &[("type", "alert")]).await?;
        let groups = data["groups"].as_array().context("no rule groups")?;
        ensure!(!groups.is_empty(), "Prometheus loaded no rule group");
        groups
            .iter()
            .map(|group| {
                let name = group["name"].as_str().unwrap_or_default().to_owned();
                let evaluated = group["lastEvaluation"]
                    .as_str()
                    .context("a group without lastEvaluation")?;
                let evaluated = chrono::DateTime::parse_from_rfc3339(evaluated)
                    .with_context(|| format!("lastEvaluation {evaluated}"))?;
                Ok((name, evaluated.to_utc()))
            })
            .collect()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn string_map(value: &serde_json::Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}
