//! A service's Prometheus endpoint as tests see it: scraped over HTTP,
//! parsed into samples, checked by Prometheus' own `promtool check metrics`
//! (the parser and linter a real Prometheus deployment trusts, not ours),
//! and a process's listening TCP ports read from `/proc`, to prove that
//! `METRICS_ADDR=off` opens no listener at all.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};

/// What `Content-Type` of a scrape starts with: the classic text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4";

/// How long one scrape may take (the service's scrape hooks read the
/// database and the broker).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(15);

/// `GET http://{addr}/metrics`: the body, once the answer is 200 in the
/// classic text format.
pub async fn scrape(addr: SocketAddr) -> anyhow::Result<String> {
    let url = format!("http://{addr}/metrics");
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(SCRAPE_TIMEOUT))
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
        let body = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("reading {url}"))?;
        ensure!(status == 200, "GET {url} answered {status}: {body}");
        ensure!(
            content_type.starts_with(TEXT_FORMAT),
            "GET {url} answered Content-Type {content_type:?}, not the text format {TEXT_FORMAT:?}"
        );
        Ok(body)
    })
    .await
    .context("joining the scrape")?
}

/// One sample line of the text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (`grpc_server_handled_total`, `…_bucket`).
    pub name: String,
    /// The labels, by name.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// Whether every `(name, value)` of `labels` is on this sample.
    pub fn has_labels(&self, labels: &[(&str, &str)]) -> bool {
        labels
            .iter()
            .all(|(name, value)| self.labels.get(*name).map(String::as_str) == Some(*value))
    }
}

/// The samples of a scrape (comments and blank lines skipped).
pub fn samples(text: &str) -> anyhow::Result<Vec<Sample>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| parse_sample(line).with_context(|| format!("sample line {line:?}")))
        .collect()
}

fn parse_sample(line: &str) -> anyhow::Result<Sample> {
    let name_end = line.find(['{', ' ']).context("no value")?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inside) = rest.strip_prefix('{') {
        // `name="value"` pairs separated by commas, then `}`.
        loop {
            inside = inside.trim_start_matches([',', ' ']);
            if let Some(after) = inside.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, quoted) = inside
                .split_once("=\"")
                .context("a label without =\" or unterminated labels")?;
            let (value, after) = label_value(quoted)?;
            labels.insert(label.to_owned(), value);
            inside = after;
        }
    }
    let value = rest
        .split_whitespace()
        .next()
        .context("no value after the labels")?;
    let value: f64 = value
        .parse()
        .with_context(|| format!("value {value:?} is not a number"))?;
    Ok(Sample {
        name,
        labels,
        value,
    })
}

/// A label value's content, from after its opening quote, unescaped, and
/// the text after its closing quote.
fn label_value(text: &str) -> anyhow::Result<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, character)) = chars.next() {
        match character {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match chars.next().context("a dangling escape")?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    bail!("an unterminated label value")
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn samples_are_parsed_with_their_labels_and_escapes() {
        let text = "# HELP x_total A counter.\n# TYPE x_total counter\n\
                    x_total{a=\"1\",b=\"say \\\"hi\\\", then, go}\"} 3\n\
                    up 1 1700000000000\n\
                    h_bucket{le=\"+Inf\"} 7\n";
        let samples = samples(text).unwrap();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].name, "x_total");
        assert_eq!(samples[0].labels["a"], "1");
        assert_eq!(samples[0].labels["b"], "say \"hi\", then, go}");
        assert_eq!(samples[0].value, 3.0);
        assert!(samples[0].has_labels(&[("a", "1")]));
        assert!(!samples[0].has_labels(&[("a", "2")]));
        assert_eq!(samples[1].name, "up");
        assert!(samples[1].labels.is_empty());
        assert_eq!(samples[2].labels["le"], "+Inf");
    }

    #[test]
    fn a_line_without_a_value_is_an_error() {
        assert!(samples("x_total{a=\"1\"}\n").is_err());
        assert!(samples("x_total{a=\"1\n").is_err());
    }

    #[test]
    fn promtool_rejects_a_counter_without_total_and_accepts_a_good_one() {
        let error = promtool_check_metrics("# HELP x A counter.\n# TYPE x counter\nx 1\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("_total"), "{error}");
        promtool_check_metrics("# HELP x_total A counter.\n# TYPE x_total counter\nx_total 1\n")
            .unwrap();
    }

    #[test]
    fn a_bound_listener_is_listed_and_a_closed_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(
            listening_tcp_ports(std::process::id())
                .unwrap()
                .contains(&port)
        );
        drop(listener);
        assert!(
            !listening_tcp_ports(std::process::id())
                .unwrap()
                .contains(&port)
        );
    }
}
