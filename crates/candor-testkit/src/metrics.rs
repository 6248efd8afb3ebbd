//! Reading a service's Prometheus endpoint in tests: `GET /metrics`, the
//! classic text format parsed into samples, and exact look-ups by name and
//! label set, so a test asserts a series' value rather than a substring.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};

const TIMEOUT: Duration = Duration::from_secs(30);

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
    let url = format!("http://{addr}/metrics");
    let text = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .build()
            .new_agent();
        let mut response = agent
            .get(&url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        response
            .body_mut()
            .read_to_string()
            .context("reading the metrics")
    })
    .await
    .context("the scrape panicked")??;
    Scrape::parse(&text)
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
}
