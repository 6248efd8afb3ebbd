//! The autoscaling overlay: KEDA scales Deployments that exist, on metrics
//! Candor reports under the job names Prometheus gives them, with the
//! numbers the base configures, and the overlay stops the base from
//! resetting the replica counts KEDA owns.

use std::collections::BTreeSet;

use serde_yaml::Value;

use super::{AUTOSCALING, BASE, all, at, find, kustomization, name_of, objects, quantity_at};
use crate::monitoring_rules::{is_reported, metric_names};
use crate::read;

fn triggers(scaled: &Value) -> Vec<Value> {
    at(scaled, &["spec", "triggers"])
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn keda_scales_existing_deployments_within_bounds_and_owns_their_replicas() {
    let objects = objects(AUTOSCALING);
    let scaled = all(&objects, "ScaledObject");
    let mut targets = BTreeSet::new();
    for object in &scaled {
        let target = at(object, &["spec", "scaleTargetRef", "name"])
            .and_then(Value::as_str)
            .expect("scaleTargetRef.name");
        let kind = at(object, &["spec", "scaleTargetRef", "kind"])
            .and_then(Value::as_str)
            .unwrap_or("Deployment");
        find(&objects, kind, target);
        let min = at(object, &["spec", "minReplicaCount"])
            .and_then(Value::as_u64)
            .expect("minReplicaCount");
        let max = at(object, &["spec", "maxReplicaCount"])
            .and_then(Value::as_u64)
            .expect("maxReplicaCount");
        // Never to zero: the gRPC API has callers whatever the queue holds.
        assert!(min >= 1 && max >= min, "{}: {min}..={max}", name_of(object));
        assert!(
            !triggers(object).is_empty(),
            "{} has triggers",
            name_of(object)
        );
        targets.insert(target.to_owned());
    }
    assert_eq!(
        targets,
        BTreeSet::from(["account".to_owned(), "notification".to_owned()])
    );

    let patched: BTreeSet<String> = kustomization(AUTOSCALING)
        .get("patches")
        .and_then(Value::as_sequence)
        .expect("patches")
        .iter()
        .filter(|patch| {
            patch
                .get("patch")
                .and_then(Value::as_str)
                .is_some_and(|text| {
                    text.contains("op: remove") && text.contains("path: /spec/replicas")
                })
        })
        .filter(|patch| {
            at(patch, &["target", "kind"]).and_then(Value::as_str) == Some("Deployment")
        })
        .filter_map(|patch| at(patch, &["target", "name"]).and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        patched, targets,
        "the overlay drops `replicas` from exactly the Deployments KEDA scales"
    );
}

/// The number after `/` in a PromQL expression (`… / 8 * 1.25`): the
/// per-pod SMTP concurrency the notification query divides by.
fn divisors(query: &str) -> Vec<u64> {
    let words: Vec<&str> = query.split_whitespace().collect();
    words
        .windows(2)
        .filter(|pair| pair[0] == "/")
        .filter_map(|pair| pair[1].parse().ok())
        .collect()
}

#[test]
fn notification_scales_on_the_pods_its_send_rate_needs_while_notices_wait() {
    let objects = objects(AUTOSCALING);
    let scaled = find(&objects, "ScaledObject", "notification");
    let triggers = triggers(scaled);
    let [trigger] = triggers.as_slice() else {
        panic!("notification scales on one trigger: {triggers:?}");
    };
    assert_eq!(
        trigger.get("type").and_then(Value::as_str),
        Some("prometheus")
    );
    // The query gives pods: with a threshold of 1 KEDA asks for that many.
    assert_eq!(
        trigger.get("metricType").and_then(Value::as_str),
        Some("AverageValue")
    );
    assert_eq!(
        at(trigger, &["metadata", "threshold"]).and_then(Value::as_str),
        Some("1")
    );
    let query = at(trigger, &["metadata", "query"])
        .and_then(Value::as_str)
        .expect("a query");
    for metric in metric_names(query) {
        assert!(
            is_reported(&metric),
            "the query asks for {metric}, which nothing reports"
        );
    }
    for needed in [
        "candor_notification_send_rate_limit_per_second",
        "candor_smtp_transaction_seconds_sum",
        "candor_smtp_transaction_seconds_count",
        "candor_breach_notices",
    ] {
        assert!(query.contains(needed), "the query uses {needed}");
    }
    assert!(
        query.contains(r#"state="pending""#),
        "scaled only while notices wait"
    );
    // The job name the alerts and dashboards select, as compose's
    // Prometheus names it.
    assert!(query.contains(r#"job="candor-notification""#));
    assert!(read("deploy/prometheus/prometheus.yml").contains("job_name: candor-notification"));

    let base = super::objects(BASE);
    let deployment = find(&base, "Deployment", "notification");
    let concurrency: u64 = super::settings::setting_value(&base, deployment, "SMTP_CONCURRENCY")
        .expect("notification's ConfigMap sets SMTP_CONCURRENCY, which the query divides by")
        .parse()
        .expect("a number");
    assert_eq!(
        divisors(query),
        [concurrency],
        "the query divides by SMTP_CONCURRENCY as configured"
    );
}

#[test]
fn account_scales_on_cpu_it_requests() {
    let objects = objects(AUTOSCALING);
    let scaled = find(&objects, "ScaledObject", "account");
    let triggers = triggers(scaled);
    let [trigger] = triggers.as_slice() else {
        panic!("account scales on one trigger: {triggers:?}");
    };
    assert_eq!(trigger.get("type").and_then(Value::as_str), Some("cpu"));
    let deployment = find(&objects, "Deployment", "account");
    // Utilization is a share of the request: without one there is none.
    let request = quantity_at(
        super::container(deployment),
        &["resources", "requests", "cpu"],
    );
    assert!(request.is_some_and(|cores| cores > 0.0));
}

#[test]
fn divisors_are_found() {
    assert_eq!(divisors("(a * b / c / 8 * 1.25)"), [8]);
}
