//! The alerts and dashboards ask about metrics that exist: every alert has a
//! severity, a summary, a description and a runbook section that exists in
//! `docs/runbooks.md`, a unit test where it fires and one where it does not;
//! every metric name in the alerts' and dashboards' PromQL is one Candor
//! reports (METRICS_SPEC.md) or one of RabbitMQ's, postgres-exporter's, a
//! process's, or `up`. (Whether the PromQL parses is `scripts/check-monitoring`'s
//! job, with promtool.)

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::monitoring::{dashboards, panels};
use crate::read;

/// The families METRICS_SPEC.md fixes, as exposed (counters with `_total`).
const CANDOR_METRICS: &[&str] = &[
    "candor_build_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "process_threads",
    "grpc_server_started_total",
    "grpc_server_handled_total",
    "candor_messages_consumed_total",
    "candor_message_handler_retries_total",
    "candor_consumer_connected",
    "candor_messages_published_total",
    "candor_outbox_pending_messages",
    "candor_outbox_oldest_pending_age_seconds",
    "candor_outbox_published_total",
    "candor_dead_letter_queue_messages",
    "candor_parked_messages",
    "candor_db_pool_connections",
    "candor_db_pool_max_connections",
    "candor_db_pool_acquire_wait_seconds",
    "candor_breach_incident_complete",
    "candor_breach_incident_started_timestamp_seconds",
    "candor_breach_accounts_affected",
    "candor_breach_notices",
    "candor_breach_notices_possibly_resent",
    "candor_breach_notices_expected_duration_seconds",
    "candor_notification_notices_sent_total",
    "candor_notification_notices_failed_total",
    "candor_notification_send_rate_limit_per_second",
    "candor_smtp_connections",
    "candor_breach_credits_granted",
    "candor_breach_credits_expected",
    "candor_breach_thread_opened",
    "candor_password_hash_queue_length",
    "candor_password_hash_in_progress",
];

/// The histograms of METRICS_SPEC.md, exposed as `_bucket`, `_sum`, `_count`.
const CANDOR_HISTOGRAMS: &[&str] = &[
    "grpc_server_handling_seconds",
    "candor_message_handler_seconds",
    "candor_smtp_transaction_seconds",
    "candor_password_hash_seconds",
];

/// Series of the infrastructure jobs (rabbitmq_prometheus, postgres-exporter).
const INFRASTRUCTURE_PREFIXES: &[&str] = &["rabbitmq_", "pg_"];

pub(crate) fn is_reported(name: &str) -> bool {
    name == "up"
        || CANDOR_METRICS.contains(&name)
        || CANDOR_HISTOGRAMS.iter().any(|histogram| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| name == format!("{histogram}{suffix}"))
        })
        || INFRASTRUCTURE_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// PromQL keywords that are not followed by a parenthesis.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "group_left",
    "group_right",
];

/// Keywords whose parenthesis holds label names, not an expression.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects: what is left once
/// strings, label matchers, ranges, label lists, numbers, durations,
/// keywords and function names are taken out. Grafana's `$variables` only
/// ever sit inside the parts taken out.
pub(crate) fn metric_names(expr: &str) -> BTreeSet<String> {
    let characters: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut index = 0;
    // The index just past the closing character that matches `open` at `from`.
    let skip_to = |from: usize, close: char| -> usize {
        let mut position = from + 1;
        let mut depth = 1;
        let open = characters[from];
        while position < characters.len() {
            let character = characters[position];
            if character == '\\' {
                position += 2;
                continue;
            }
            if character == close && (open != close || depth == 1) {
                depth -= 1;
                if depth == 0 {
                    return position + 1;
                }
            } else if character == open && open != close {
                depth += 1;
            }
            position += 1;
        }
        panic!("unbalanced {open} in {expr}");
    };
    let next_non_space = |from: usize| {
        characters[from..]
            .iter()
            .position(|character| !character.is_whitespace())
            .map(|offset| from + offset)
    };
    while index < characters.len() {
        let character = characters[index];
        match character {
            '"' | '\'' | '`' => index = skip_to(index, character),
            '{' => index = skip_to(index, '}'),
            '[' => index = skip_to(index, ']'),
            _ if character.is_ascii_digit() || character == '.' => {
                // A number or a duration (`0.5`, `1e3`, `5m`).
                while index < characters.len()
                    && (characters[index].is_ascii_alphanumeric() || characters[index] == '.')
                {
                    index += 1;
                }
            }
            _ if character.is_ascii_alphabetic() || character == '_' || character == ':' => {
                let start = index;
                while index < characters.len()
                    && (characters[index].is_ascii_alphanumeric()
                        || characters[index] == '_'
                        || characters[index] == ':')
                {
                    index += 1;
                }
                let word: String = characters[start..index].iter().collect();
                let next = next_non_space(index);
                let opens = next.is_some_and(|next| characters[next] == '(');
                // `sum by (job) (…)`: an aggregation with its clause first.
                let rest: String = next
                    .map(|next| characters[next..].iter().collect())
                    .unwrap_or_default();
                let aggregates = ["by", "without"].iter().any(|clause| {
                    rest.strip_prefix(clause)
                        .is_some_and(|after| after.trim_start().starts_with('('))
                });
                if opens && LABEL_LISTS.contains(&word.as_str()) {
                    index = skip_to(next.expect("a parenthesis"), ')');
                } else if !opens && !aggregates && !KEYWORDS.contains(&word.as_str()) {
                    names.insert(word);
                }
            }
            _ => index += 1,
        }
    }
    names
}

#[test]
fn metric_names_are_found_and_nothing_else() {
    let names = metric_names(
        r#"sum by (job) (rate(a_total{x="y", q=~"b|c"}[$__rate_interval])) / on (job) group_left (le) b > 0.5 and c offset 5m or histogram_quantile(0.99, d_bucket{job="$job"}) + 1e3 * time()"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["a_total", "b", "c", "d_bucket"]
    );
}

/// Every rule of `alerts.yml` that is an alert.
fn alerts() -> Vec<Value> {
    let rules: Value =
        serde_yaml::from_str(&read("deploy/prometheus/alerts.yml")).expect("alerts.yml parses");
    rules
        .get("groups")
        .and_then(Value::as_sequence)
        .expect("groups")
        .iter()
        .flat_map(|group| {
            group
                .get("rules")
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default()
        })
        .filter(|rule| rule.get("alert").is_some())
        .collect()
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(*key))
        .and_then(Value::as_str)
}

/// The anchors GitHub gives the headings of a Markdown file.
fn anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|character| match character {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_alert_says_how_bad_what_and_where_its_runbook_is() {
    let runbooks = anchors(&read("docs/runbooks.md"));
    let mut names = BTreeSet::new();
    for alert in alerts() {
        let name = text(&alert, &["alert"]).expect("alert name").to_owned();
        assert!(names.insert(name.clone()), "{name} is defined twice");
        let severity = text(&alert, &["labels", "severity"]);
        assert!(
            matches!(severity, Some("page" | "ticket")),
            "{name}: severity {severity:?}"
        );
        for annotation in ["summary", "description"] {
            assert!(
                text(&alert, &["annotations", annotation]).is_some_and(|text| !text.is_empty()),
                "{name} has no {annotation}"
            );
        }
        let runbook = text(&alert, &["annotations", "runbook_url"])
            .unwrap_or_else(|| panic!("{name} has no runbook_url"));
        let anchor = runbook
            .strip_prefix("docs/runbooks.md#")
            .unwrap_or_else(|| panic!("{name}: {runbook} is not a section of docs/runbooks.md"));
        assert!(
            runbooks.contains(anchor),
            "{name}: docs/runbooks.md has no section #{anchor}"
        );
    }
    // And no runbook for an alert that no longer exists.
    let sections: BTreeSet<String> = runbooks
        .into_iter()
        .filter(|anchor| anchor.starts_with("candor"))
        .collect();
    let alerts: BTreeSet<String> = names.iter().map(|name| name.to_lowercase()).collect();
    assert_eq!(sections, alerts, "one runbook section per alert");
}

#[test]
fn every_alert_has_a_test_where_it_fires_and_one_where_it_does_not() {
    let tests: Value = serde_yaml::from_str(&read("deploy/prometheus/alerts.test.yml"))
        .expect("alerts.test.yml parses");
    // alertname -> (fires somewhere, stays quiet somewhere)
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for test in tests
        .get("tests")
        .and_then(Value::as_sequence)
        .expect("tests")
    {
        for case in test
            .get("alert_rule_test")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let name = text(case, &["alertname"]).expect("alertname").to_owned();
            let fires = case
                .get("exp_alerts")
                .and_then(Value::as_sequence)
                .is_some_and(|alerts| !alerts.is_empty());
            let entry = cases.entry(name).or_default();
            entry.0 |= fires;
            entry.1 |= !fires;
        }
    }
    for alert in alerts() {
        let name = text(&alert, &["alert"]).expect("alert name");
        assert_eq!(
            cases.get(name),
            Some(&(true, true)),
            "{name}: alerts.test.yml needs a case where it fires and one where it does not"
        );
    }
}

/// The PromQL of a Grafana variable query (`label_values(selector, label)`,
/// `query_result(expr)`), or None for one that names only a label.
fn variable_expr(query: &serde_json::Value) -> Option<String> {
    let query = query.as_str().or_else(|| query["query"].as_str())?.trim();
    if let Some(inner) = query
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return inner
            .rsplit_once(',')
            .map(|(selector, _)| selector.trim().to_owned());
    }
    query
        .strip_prefix("query_result(")
        .and_then(|rest| rest.strip_suffix(')'))
        .map(str::to_owned)
}

#[test]
fn every_metric_the_alerts_and_dashboards_use_is_one_that_is_reported() {
    let mut expressions: Vec<(String, String)> = alerts()
        .iter()
        .map(|alert| {
            (
                format!("alerts.yml {}", text(alert, &["alert"]).unwrap_or("?")),
                text(alert, &["expr"]).expect("expr").to_owned(),
            )
        })
        .collect();
    for (file, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    let title = panel["title"].as_str().unwrap_or("?");
                    expressions.push((format!("{file} {title}"), expr.to_owned()));
                }
            }
        }
        for variable in dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(expr) = variable_expr(&variable["query"]) {
                expressions.push((format!("{file} ${}", variable["name"]), expr));
            }
        }
    }
    let mut used = BTreeSet::new();
    for (place, expr) in &expressions {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{place}: no metric in {expr}");
        for name in names {
            assert!(
                is_reported(&name),
                "{place} uses {name}, which no service, RabbitMQ or postgres-exporter reports"
            );
            used.insert(name);
        }
    }
    // The breach families are what the dashboards exist for.
    for family in [
        "candor_breach_notices",
        "candor_breach_accounts_affected",
        "candor_breach_credits_granted",
        "candor_breach_credits_expected",
        "candor_breach_thread_opened",
        "candor_notification_send_rate_limit_per_second",
    ] {
        assert!(used.contains(family), "no dashboard shows {family}");
    }
}
