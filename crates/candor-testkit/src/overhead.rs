//! What metrics cost a service, measured inside one benchmark run: runs
//! with `METRICS_ADDR` on (and scraped every second) and off alternate
//! round by round, so the machine's drift (other builds, other benchmarks
//! on the shared cores) falls on both sides alike, and the summary compares
//! medians. Used by the benches that take `--metrics on|off|both`.

use std::fmt::Write as _;
use std::time::Duration;

/// How often the benches scrape during a run with metrics on, unless
/// `--scrape-interval` says otherwise (Prometheus' usual interval is 15 s,
/// deploy/prometheus/prometheus.yml's too; every second is the harsher
/// case).
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

/// Parses `--scrape-interval` (seconds, fractions allowed): `None` for 0,
/// metrics served but never scraped, which parts the cost of recording
/// from the cost of scraping.
pub fn parse_scrape_interval(seconds: &str) -> Result<Option<Duration>, String> {
    let seconds: f64 = seconds
        .parse()
        .map_err(|_| format!("--scrape-interval takes seconds, not {seconds:?}"))?;
    if seconds == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|error| format!("--scrape-interval {seconds}: {error}"))
}

/// Whether a run serves (and is scraped for) metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// `METRICS_ADDR` on a free port, scraped every `--scrape-interval`.
    On,
    /// `METRICS_ADDR=off`: no endpoint, no instrumentation work.
    Off,
}

impl Metrics {
    /// `on` or `off`, as the flag spells it.
    pub fn label(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Off => "off",
        }
    }

    /// The `METRICS_ADDR` of a run: `127.0.0.1:{port}` or `off`.
    pub fn metrics_addr(self, port: u16) -> String {
        match self {
            Self::On => format!("127.0.0.1:{port}"),
            Self::Off => "off".to_owned(),
        }
    }
}

/// The runs of `--metrics on|off|both` with `rounds` rounds: one run per
/// round for `on` or `off`; for `both` an on and an off run per round, the
/// order swapped every round (on-off, off-on, …).
pub fn plan(flag: &str, rounds: usize) -> Result<Vec<(usize, Metrics)>, String> {
    let rounds = rounds.max(1);
    let per_round: fn(usize) -> Vec<Metrics> = match flag {
        "on" => |_| vec![Metrics::On],
        "off" => |_| vec![Metrics::Off],
        "both" => |round| {
            if round % 2 == 1 {
                vec![Metrics::On, Metrics::Off]
            } else {
                vec![Metrics::Off, Metrics::On]
            }
        },
        other => return Err(format!("--metrics takes on, off or both, not {other:?}")),
    };
    Ok((1..=rounds)
        .flat_map(|round| {
            per_round(round)
                .into_iter()
                .map(move |metrics| (round, metrics))
        })
        .collect())
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Its round (from 1).
    pub round: usize,
    /// Metrics on or off.
    pub metrics: Metrics,
    /// Throughput, in the bench's unit per second.
    pub rate: f64,
    /// CPU the service process spent, in ms per 1000 units of work.
    pub cpu_ms_per_thousand: f64,
    /// The machine's one-minute load average when the run started
    /// ([`load_average`]), to tell a quiet run from a shared one.
    pub load: f64,
}

/// The one-minute load average (`/proc/loadavg`; NaN when unreadable).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The runs of one bench invocation, summarised side by side.
#[derive(Debug, Default)]
pub struct SideBySide {
    runs: Vec<Run>,
}

impl SideBySide {
    /// Records one run.
    pub fn record(&mut self, run: Run) {
        self.runs.push(run);
    }

    /// A table of every run, then per side the median throughput and CPU,
    /// and (with both sides measured) on ÷ off and the cost in percent of
    /// throughput, by medians and round by round. `unit` names what the
    /// rate counts (`notices`, `credits`).
    pub fn summary(&self, unit: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "| round | metrics | load at start | {unit}/s | service CPU ms / 1000 {unit} |"
        );
        let _ = writeln!(text, "| --- | --- | ---: | ---: | ---: |");
        for run in &self.runs {
            let _ = writeln!(
                text,
                "| {} | {} | {:.2} | {:.0} | {:.2} |",
                run.round,
                run.metrics.label(),
                run.load,
                run.rate,
                run.cpu_ms_per_thousand
            );
        }
        let side = |metrics: Metrics| -> Vec<Run> {
            self.runs
                .iter()
                .copied()
                .filter(|run| run.metrics == metrics)
                .collect()
        };
        let (on, off) = (side(Metrics::On), side(Metrics::Off));
        for (metrics, runs) in [(Metrics::On, &on), (Metrics::Off, &off)] {
            if runs.is_empty() {
                continue;
            }
            let _ = writeln!(
                text,
                "metrics {}: {} runs, median {:.0} {unit}/s (range {:.0}–{:.0}), median service CPU {:.2} ms / 1000",
                metrics.label(),
                runs.len(),
                median(runs.iter().map(|run| run.rate)),
                runs.iter()
                    .map(|run| run.rate)
                    .fold(f64::INFINITY, f64::min),
                runs.iter().map(|run| run.rate).fold(0.0, f64::max),
                median(runs.iter().map(|run| run.cpu_ms_per_thousand)),
            );
        }
        if on.is_empty() || off.is_empty() {
            return text;
        }
        let ratio = median(on.iter().map(|run| run.rate)) / median(off.iter().map(|run| run.rate));
        let cpu_ratio = median(on.iter().map(|run| run.cpu_ms_per_thousand))
            / median(off.iter().map(|run| run.cpu_ms_per_thousand));
        let per_round: Vec<f64> = on
            .iter()
            .filter_map(|on_run| {
                off.iter()
                    .find(|off_run| off_run.round == on_run.round)
                    .map(|off_run| on_run.rate / off_run.rate)
            })
            .collect();
        let _ = writeln!(
            text,
            "on / off: throughput {:.1} % by medians (cost {:+.1} %), service CPU per unit {:.1} %; round by round {} (median {:.1} %)",
            100.0 * ratio,
            100.0 * (1.0 - ratio),
            100.0 * cpu_ratio,
            per_round
                .iter()
                .map(|ratio| format!("{:.1} %", 100.0 * ratio))
                .collect::<Vec<_>>()
                .join(", "),
            100.0 * median(per_round.iter().copied()),
        );
        text
    }
}

/// The median (the mean of the middle two for an even count; NaN for none).
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn both_alternates_the_order_every_round() {
        assert_eq!(
            plan("both", 3).unwrap(),
            vec![
                (1, Metrics::On),
                (1, Metrics::Off),
                (2, Metrics::Off),
                (2, Metrics::On),
                (3, Metrics::On),
                (3, Metrics::Off),
            ]
        );
        assert_eq!(
            plan("off", 2).unwrap(),
            vec![(1, Metrics::Off), (2, Metrics::Off)]
        );
        assert!(plan("sometimes", 1).is_err());
    }

    #[test]
    fn the_summary_compares_medians_and_rounds() {
        let mut side_by_side = SideBySide::default();
        for (round, metrics, rate) in [
            (1, Metrics::On, 98.0),
            (1, Metrics::Off, 100.0),
            (2, Metrics::Off, 90.0),
            (2, Metrics::On, 90.0),
        ] {
            side_by_side.record(Run {
                round,
                metrics,
                rate,
                cpu_ms_per_thousand: 10.0,
                load: 1.5,
            });
        }
        let summary = side_by_side.summary("notices");
        assert!(
            summary.contains("| 2 | on | 1.50 | 90 | 10.00 |"),
            "{summary}"
        );
        // Medians 94 and 95: 98.9 %; rounds 98.0 % and 100.0 %.
        assert!(
            summary.contains("throughput 98.9 % by medians (cost +1.1 %)"),
            "{summary}"
        );
        assert!(
            summary.contains("round by round 98.0 %, 100.0 % (median 99.0 %)"),
            "{summary}"
        );
    }

    #[test]
    fn a_scrape_interval_of_0_means_never() {
        assert_eq!(parse_scrape_interval("0").unwrap(), None);
        assert_eq!(
            parse_scrape_interval("1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert!(parse_scrape_interval("-1").is_err());
        assert!(parse_scrape_interval("often").is_err());
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), 2.5);
        assert!(median(std::iter::empty()).is_nan());
    }
}
