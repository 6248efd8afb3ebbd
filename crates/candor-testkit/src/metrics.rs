//! Reading a service's Prometheus endpoint in tests: `GET /metrics` (200,
//! in the classic text format), the text parsed into samples, and exact
//! look-ups by name and label set, so a test asserts a series' value rather
//! than a substring. Besides: the text checked by Prometheus' own
//! `promtool check metrics` (the parser and linter a real deployment
//! trusts, not ours), and a process's listening TCP ports read from
//! `/proc`, to prove that `METRICS_ADDR=off` opens no listener at all.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};

const TIMEOUT: Duration = Duration::from_secs(30);

/// What `Content-Type` of a scrape starts with: the classic text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4";

/// One sample: a series (name and labels) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (`grpc_server_handled_total`, `…_bucket`, …).
    pub name: String,
    /// The labels, by name.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// Whether every `(name, value)` of `labels` is on this sample (it may
    /// have more).
    pub fn has_labels(&self, labels: &[(&str, &str)]) -> bool {
        labels
            .iter()
            .all(|(name, value)| self.labels.get(*name).map(String::as_str) == Some(*value))
    }
}

/// Every sample of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the text exposition format; comments and blank lines are
    /// skipped, timestamps after the value ignored.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let samples = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| parse_sample(line).with_context(|| format!("metrics line {line:?}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { samples })
    }

    /// The value of the series `name` whose labels are exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }

    /// Every sample of the series `name`.
    pub fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |sample| sample.name == name)
    }

    /// Every sample of the scrape.
    pub fn all(&self) -> &[Sample] {
        &self.samples
    }

    /// Each label (as `name{label="value"}`) whose value holds an email
    /// address (an `@`) or one of `ids`: what no label may ever hold.
    pub fn labels_naming(&self, ids: &[&str]) -> Vec<String> {
        self.samples
            .iter()
            .flat_map(|sample| {
                sample
                    .labels
                    .iter()
                    .filter(|(_, value)| {
                        value.contains('@') || ids.iter().any(|id| value.contains(id))
                    })
                    .map(|(label, value)| format!("{}{{{label}={value:?}}}", sample.name))
            })
            .collect()
    }
}

/// Scrapes `GET http://{addr}/metrics`.
pub async fn scrape(addr: SocketAddr) -> anyhow::Result<Scrape> {
    Scrape::parse(&scrape_text(addr).await?)
}

/// `GET http://{addr}/metrics`: the text, once the answer is 200 in the
/// classic text format.
pub async fn scrape_text(addr: SocketAddr) -> anyhow::Result<String> {
    let url = format!("http://{addr}/metrics");
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent
            .get(&url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("reading {url}"))?;
        ensure!(status == 200, "GET {url} answered {status}: {text}");
        ensure!(
            content_type.starts_with(TEXT_FORMAT),
            "GET {url} answered Content-Type {content_type:?}, not the text format {TEXT_FORMAT:?}"
        );
        Ok(text)
    })
    .await
    .context("the scrape panicked")?
}

fn parse_sample(line: &str) -> anyhow::Result<Sample> {
    let name_end = line
        .find(|character: char| character == '{' || character.is_whitespace())
        .ok_or_else(|| anyhow!("no value"))?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        rest = parse_labels(inside, &mut labels)?;
    }
    let value = rest
        .split_whitespace()
        .next()
        .ok_or_else(|| anyhow!("no value"))?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().with_context(|| format!("value {other:?}"))?,
    };
    Ok(Sample {
        name,
        labels,
        value,
    })
}

/// Reads `name="value",…}` into `labels`; returns what follows the `}`.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> anyhow::Result<&'a str> {
    loop {
        text = text.trim_start_matches([',', ' ']);
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let (name, rest) = text
            .split_once("=\"")
            .ok_or_else(|| anyhow!("a label without a quoted value"))?;
        let mut value = String::new();
        let mut characters = rest.char_indices();
        let end = loop {
            match characters.next() {
                Some((_, '\\')) => match characters.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => bail!("an unfinished escape"),
                },
                Some((index, '"')) => break index,
                Some((_, character)) => value.push(character),
                None => bail!("an unterminated label value"),
            }
        };
        labels.insert(name.trim().to_owned(), value);
        text = &rest[end + 1..];
    }
}

/// Runs `promtool check metrics` with `text` on its standard input; fails
/// with promtool's findings unless it exits 0 (1 is a parse error, 3 a lint
/// problem such as a counter without `_total`).
pub fn promtool_check_metrics(text: &str) -> anyhow::Result<()> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "promtool is not installed, so the metrics cannot be checked: install it with \
             `apt-get install prometheus` (Debian's package carries promtool; \
             scripts/check-monitoring does it in CI)"
        ),
        Err(error) => return Err(error).context("starting promtool"),
    };
    let mut stdin = child.stdin.take().context("promtool's stdin")?;
    // Written on a thread: promtool may answer before reading everything.
    let input = text.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().context("running promtool")?;
    let _ = writer.join();
    ensure!(
        output.status.success(),
        "promtool check metrics exited with {}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The TCP ports process `pid` listens on (IPv4 and IPv6), from its open
/// socket descriptors and its network namespace's tables in `/proc`.
pub fn listening_tcp_ports(pid: u32) -> anyhow::Result<BTreeSet<u16>> {
    let mut inodes = BTreeSet::new();
    let descriptors = format!("/proc/{pid}/fd");
    for entry in
        std::fs::read_dir(&descriptors).with_context(|| format!("listing {descriptors}"))?
    {
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue; // closed meanwhile
        };
        if let Some(inode) = target
            .to_str()
            .and_then(|target| target.strip_prefix("socket:["))
            .and_then(|target| target.strip_suffix(']'))
        {
            inodes.insert(inode.to_owned());
        }
    }
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state != "0A" || !inodes.contains(*inode) {
                continue;
            }
            let port = local
                .rsplit_once(':')
                .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
                .with_context(|| format!("{path}: local address {local:?}"))?;
            ports.insert(port);
        }
    }
    Ok(ports)
}

/// What a [`Scraper`] did.
#[derive(Debug, Clone, Default)]
pub struct ScrapeCounts {
    /// Scrapes answered 200 in the text format.
    pub scrapes: u64,
    /// Scrapes that failed before the first good one (the service was not
    /// listening yet).
    pub before_listening: u64,
    /// Scrapes that failed after a good one.
    pub failures: u64,
    /// The size of the last good scrape, in bytes.
    pub last_bytes: usize,
    /// The time the good scrapes took, together.
    pub total_time: Duration,
    /// The longest good scrape.
    pub slowest: Duration,
    /// Why the first scrape failed after a good one.
    pub first_error: Option<String>,
}

/// Scrapes a metrics endpoint every interval in the background, as
/// Prometheus does, so a benchmark measures the service with its scrape
/// hooks running and not only its counters.
pub struct Scraper {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<ScrapeCounts>,
}

impl Scraper {
    /// Starts scraping `addr` now and then every `interval`.
    pub fn start(addr: SocketAddr, interval: Duration) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut counts = ScrapeCounts::default();
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopped.cancelled() => return counts,
                    _ = ticks.tick() => {}
                }
                let started = std::time::Instant::now();
                match scrape_text(addr).await {
                    Ok(text) => {
                        let took = started.elapsed();
                        counts.scrapes += 1;
                        counts.last_bytes = text.len();
                        counts.total_time += took;
                        counts.slowest = counts.slowest.max(took);
                    }
                    Err(_) if counts.scrapes == 0 => counts.before_listening += 1,
                    Err(error) => {
                        counts.failures += 1;
                        counts.first_error.get_or_insert(format!("{error:#}"));
                    }
                }
            }
        });
        Self { stop, task }
    }

    /// Stops scraping; what it did.
    pub async fn stop(self) -> ScrapeCounts {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

impl std::fmt::Display for ScrapeCounts {
    /// `12 scrapes of 15374 bytes, 48 ms each on average and 95 ms at
    /// most, 1 before the service listened, 0 failed after`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let average = self
            .total_time
            .checked_div(u32::try_from(self.scrapes).unwrap_or(u32::MAX))
            .unwrap_or_default();
        write!(
            formatter,
            "{} scrapes of {} bytes, {:.1} ms each on average and {:.1} ms at most, {} before the service listened, {} failed after",
            self.scrapes,
            self.last_bytes,
            average.as_secs_f64() * 1000.0,
            self.slowest.as_secs_f64() * 1000.0,
            self.before_listening,
            self.failures
        )?;
        if let Some(error) = &self.first_error {
            write!(formatter, " (the first: {error})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_name_and_exact_labels() {
        let scrape = Scrape::parse(
            "# HELP x_total Things.\n\
             # TYPE x_total counter\n\
             x_total{code=\"OK\",method=\"Get\"} 3\n\
             x_total{code=\"OK\",method=\"Get\",extra=\"1\"} 4\n\
             plain 2.5\n\
             quoted{text=\"a \\\"b\\\" \\\\ c\\nd\"} 1 1700000000000\n\
             bucket{le=\"+Inf\"} 7\n\
             inf +Inf\n",
        )
        .expect("parse");
        assert_eq!(
            scrape.value("x_total", &[("method", "Get"), ("code", "OK")]),
            Some(3.0)
        );
        assert_eq!(scrape.value("x_total", &[("code", "OK")]), None);
        assert_eq!(scrape.value("plain", &[]), Some(2.5));
        assert_eq!(
            scrape.value("quoted", &[("text", "a \"b\" \\ c\nd")]),
            Some(1.0)
        );
        assert_eq!(scrape.value("bucket", &[("le", "+Inf")]), Some(7.0));
        assert_eq!(scrape.value("inf", &[]), Some(f64::INFINITY));
        assert_eq!(scrape.samples("x_total").count(), 2);
        assert_eq!(scrape.labels_naming(&[]), Vec::<String>::new());
        assert_eq!(scrape.labels_naming(&["Ge"]).len(), 2);
    }

    #[test]
    fn a_label_holding_an_address_is_found() {
        let scrape = Scrape::parse("x{to=\"member@example.org\"} 1\n").expect("parse");
        assert_eq!(
            scrape.labels_naming(&[]),
            vec![r#"x{to="member@example.org"}"#.to_owned()]
        );
    }

    #[test]
    fn a_malformed_line_is_an_error() {
        assert!(Scrape::parse("x{a=\"unterminated} 1\n").is_err());
        assert!(Scrape::parse("x{a=\"b\"} not-a-number\n").is_err());
        assert!(Scrape::parse("novalue\n").is_err());
    }

    #[test]
    fn a_sample_has_the_labels_it_carries_and_maybe_more() {
        let scrape = Scrape::parse("x{a=\"1\",b=\"2\"} 1\n").expect("parse");
        let sample = &scrape.all()[0];
        assert!(sample.has_labels(&[("a", "1")]));
        assert!(sample.has_labels(&[]));
        assert!(!sample.has_labels(&[("a", "2")]));
        assert!(!sample.has_labels(&[("c", "1")]));
    }

    #[test]
    fn promtool_rejects_a_counter_without_total_and_accepts_a_good_one() {
        let error = promtool_check_metrics("# HELP x A counter.\n# TYPE x counter\nx 1\n")
            .expect_err("a counter without _total is a lint problem")
            .to_string();
        assert!(error.contains("_total"), "{error}");
        promtool_check_metrics("# HELP x_total A counter.\n# TYPE x_total counter\nx_total 1\n")
            .expect("a well-formed counter");
    }

    #[test]
    fn a_bound_listener_is_listed_and_a_closed_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let listening = || listening_tcp_ports(std::process::id()).expect("ports");
        assert!(listening().contains(&port));
        drop(listener);
        assert!(!listening().contains(&port));
    }
}
