//! A breach response as Prometheus sees it: the four jobs up, the
//! incident's progress series reaching the final counts, no alert pending
//! or firing once the clean incident is over, and the dead-letter alert
//! firing for a poison message.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use candor_e2e::stack::Stack;
use candor_platform::messaging::{Broker, OutgoingMessage, Publisher, ServiceQueue};
use candor_proto::events::v1::BREACH_REPORTED;
use candorctl::commands::accounts::{seed, stream};
use candorctl::commands::breach;
use candorctl::notice::{self, NoticeFlags};

use crate::prometheus::{PrometheusServer, test_config};
use crate::wait_for;

/// Members of the breach, every one of them affected.
const MEMBERS: u64 = 300;
/// Scrape and rule evaluation interval of the test's Prometheus.
const INTERVAL: &str = "1s";
/// The alert a message in a dead-letter queue raises (deploy/prometheus/alerts.yml).
const DEAD_LETTER_ALERT: &str = "CandorDeadLetterQueueNotEmpty";

fn job(service: ServiceQueue) -> String {
    format!("candor-{}", service.name())
}

fn example_notice() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/breach.toml")
}

/// `expr`'s series are exactly `expected`, one per job with that value.
async fn series_are(
    prometheus: &PrometheusServer,
    expr: &str,
    expected: &[(ServiceQueue, f64)],
) -> Result<(), String> {
    let series = prometheus
        .query(expr)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let mut by_job = BTreeMap::new();
    for one in &series {
        let job = one.labels.get("job").cloned().unwrap_or_default();
        if by_job.insert(job.clone(), one.value).is_some() {
            return Err(format!("{expr}: more than one series of {job}: {series:?}"));
        }
    }
    let expected: BTreeMap<String, f64> = expected
        .iter()
        .map(|(service, value)| (job(*service), *value))
        .collect();
    if by_job == expected {
        Ok(())
    } else {
        Err(format!("{expr} is {by_job:?}, expected {expected:?}"))
    }
}

/// Every check in turn; the first that does not hold yet is the reason.
async fn all_hold(
    prometheus: &PrometheusServer,
    checks: &[(String, Vec<(ServiceQueue, f64)>)],
) -> Result<(), String> {
    for (expr, expected) in checks {
        series_are(prometheus, expr, expected).await?;
    }
    Ok(())
}

fn every_service(value: f64) -> Vec<(ServiceQueue, f64)> {
    ServiceQueue::ALL
        .into_iter()
        .map(|service| (service, value))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_follows_a_breach_to_the_end_and_alerts_on_a_dead_letter() {
    candor_testkit::tracing::init();
    let stack = Stack::in_process().await.unwrap();
    let targets = ServiceQueue::ALL
        .into_iter()
        .map(|service| {
            let addr = stack
                .metrics_addr(service)
                .expect("the in-process stack serves metrics");
            (job(service), addr)
        })
        .collect();
    let prometheus = PrometheusServer::start(&test_config(&targets, INTERVAL).unwrap())
        .await
        .unwrap();
    let up = ("up{job=~\"candor-.+\"}".to_owned(), every_service(1.0));
    wait_for(
        Duration::from_secs(60),
        "Prometheus to scrape the four services",
        || all_hold(&prometheus, std::slice::from_ref(&up)),
    )
    .await;

    // A breach of MEMBERS members, every one joined before the cutoff.
    let run = uuid::Uuid::new_v4();
    let domain = format!("watched-{}.readers.example", run.simple());
    let cutoff = candorctl::notice::file::parse_time("2011-11-01").unwrap();
    let members = seed::members(MEMBERS, cutoff, 1.0, domain, 16);
    let summary = stream::import(&stack.endpoints, members, None)
        .await
        .unwrap();
    assert_eq!(
        summary.imported, MEMBERS,
        "rejections: {:?}",
        summary.rejections
    );
    let incident = run.to_string();
    let flags = NoticeFlags {
        incident_id: Some(incident.clone()),
        ..NoticeFlags::default()
    };
    let event = notice::load(Some(&example_notice()), &flags, SystemTime::now()).unwrap();
    breach::publish(&event, &stack.endpoints).await.unwrap();

    // Its progress, as a dashboard shows it, reaches the final counts.
    let members = MEMBERS as f64;
    let of_incident = |name: &str, more: &str| format!("{name}{{incident=\"{incident}\"{more}}}");
    let final_counts = [
        (
            of_incident("candor_breach_accounts_affected", ""),
            vec![(ServiceQueue::Account, members)],
        ),
        (
            of_incident("candor_breach_notices", ",state=\"delivered\""),
            vec![(ServiceQueue::Notification, members)],
        ),
        (
            of_incident("candor_breach_credits_granted", ""),
            vec![(ServiceQueue::Membership, members)],
        ),
        (
            of_incident("candor_breach_thread_opened", ""),
            vec![(ServiceQueue::Forum, 1.0)],
        ),
        (
            of_incident("candor_breach_incident_complete", ""),
            every_service(1.0),
        ),
        up.clone(),
    ];
    wait_for(
        Duration::from_secs(300),
        "the incident's final counts in Prometheus",
        || all_hold(&prometheus, &final_counts),
    )
    .await;

    // The rules, evaluated on samples scraped after the end, raise nothing:
    // not even a pending alert.
    let finished = chrono::Utc::now() + chrono::Duration::seconds(2);
    wait_for(
        Duration::from_secs(60),
        "every rule group evaluated after the incident finished",
        || async {
            let evaluations = prometheus
                .rule_group_evaluations()
                .await
                .map_err(|error| format!("{error:#}"))?;
            if evaluations.values().all(|evaluated| *evaluated > finished) {
                Ok(())
            } else {
                Err(format!(
                    "last evaluations {evaluations:?}, waiting for after {finished}"
                ))
            }
        },
    )
    .await;
    let alerts = prometheus.alerts().await.unwrap();
    assert!(
        alerts.is_empty(),
        "alerts after a clean incident: {alerts:#?}"
    );

    // A poison message: breach.reported from the operator that is not a
    // BreachReported. Every service consuming the key dead-letters it, and
    // the dead-letter alert fires for each of their queues.
    let operator = Broker::connect(&stack.endpoints.amqp()).await.unwrap();
    Publisher::new(operator.clone())
        .publish(OutgoingMessage::new(
            BREACH_REPORTED,
            vec![0xff, 0xff, 0xff, 0xff],
        ))
        .await
        .unwrap();
    operator.close().await;
    let consumers: Vec<ServiceQueue> = ServiceQueue::ALL
        .into_iter()
        .filter(|service| service.routing_keys().contains(&BREACH_REPORTED))
        .collect();
    let dead_lettered = [
        (
            "sum by (job) (candor_messages_consumed_total{routing_key=\"breach.reported\",outcome=\"dead_lettered\",reason=\"invalid\"})"
                .to_owned(),
            consumers.iter().map(|service| (*service, 1.0)).collect(),
        ),
        (
            "candor_dead_letter_queue_messages".to_owned(),
            consumers.iter().map(|service| (*service, 1.0)).collect(),
        ),
    ];
    wait_for(
        Duration::from_secs(60),
        "the poison message dead-lettered by every consumer of breach.reported",
        || all_hold(&prometheus, &dead_lettered),
    )
    .await;
    let mut expected: Vec<(String, String)> = consumers
        .iter()
        .map(|service| (job(*service), service.name().to_owned()))
        .collect();
    expected.sort();
    wait_for(
        Duration::from_secs(60),
        "the dead-letter alert firing for every queue that holds the poison message",
        || async {
            let alerts = prometheus
                .alerts()
                .await
                .map_err(|error| format!("{error:#}"))?;
            let mut firing: Vec<(String, String)> = alerts
                .iter()
                .filter(|alert| alert.name() == DEAD_LETTER_ALERT && alert.state == "firing")
                .map(|alert| {
                    let label = |name: &str| alert.labels.get(name).cloned().unwrap_or_default();
                    (label("job"), label("queue"))
                })
                .collect();
            firing.sort();
            if firing == expected {
                Ok(())
            } else {
                Err(format!("alerts {alerts:#?}"))
            }
        },
    )
    .await;
    stack.stop().await.unwrap();
}
