//! `candorctl dead-letters` as the operator's broker user, against real
//! RabbitMQ with the generated users and permissions: messages the
//! account service's consumer dead-lettered are listed, shown, replayed
//! (arriving on their routing key with the replay header) and purged, and
//! the ones not selected stay in the queue in their order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use candor_platform::config::expose;
use candor_platform::messaging::{
    Broker, ConsumerOptions, HEADER_ERROR, HEADER_REPLAYS, HandlerError, IncomingMessage,
    MessageHandler, OutgoingMessage, Publisher, ServiceQueue, run_consumer,
};
use candor_proto::events::v1::{BREACH_REPORTED, BreachReported, PasswordResetScope};
use candor_proto::prost::Message as _;
use candor_testkit::rabbitmq::TestBroker;
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use crate::text;

/// The account service's consumer, refusing everything.
/// Refuses every message, counting them.
#[derive(Default)]
struct Refuse {
    refused: AtomicUsize,
}

impl MessageHandler for Refuse {
    async fn handle(&self, _message: &IncomingMessage) -> Result<(), HandlerError> {
        self.refused.fetch_add(1, Ordering::SeqCst);
        Err(HandlerError::invalid("refused by the test"))
    }
}

fn breach(incident_id: &str) -> BreachReported {
    BreachReported {
        incident_id: incident_id.to_owned(),
        title: format!("Breach {incident_id}"),
        password_reset_scope: PasswordResetScope::All as i32,
        ..BreachReported::default()
    }
}

/// Runs candorctl as the operator's broker user of `broker`.
async fn candorctl(broker: &TestBroker, args: &[&str]) -> std::process::Output {
    let env = [
        (
            "AMQP_URL".to_owned(),
            expose(&broker.operator_config().amqp_url).to_owned(),
        ),
        ("AMQP_NAMESPACE".to_owned(), broker.namespace().to_owned()),
    ];
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        crate::candorctl(&args, &env)
    })
    .await
    .unwrap()
}

/// `list -o json`'s message ids, in order.
async fn listed(broker: &TestBroker) -> Vec<String> {
    let output = candorctl(broker, &["dead-letters", "list", "-o", "json"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let letters: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    letters
        .as_array()
        .unwrap()
        .iter()
        .map(|letter| letter["message_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn dead_letters_are_listed_shown_replayed_and_purged() {
    let broker = TestBroker::with_users().await.unwrap();
    let topology = broker.topology();

    // The operator reports three incidents; the account service's consumer
    // dead-letters each, one at a time, so in this order.
    let operator = Broker::connect(&broker.operator_config()).await.unwrap();
    let publisher = Publisher::new(operator.clone());
    for incident in ["incident-a", "incident-b", "incident-c"] {
        publisher
            .publish(
                OutgoingMessage::from_protobuf(BREACH_REPORTED, &breach(incident))
                    .with_message_id(format!("message-{incident}")),
            )
            .await
            .unwrap();
    }
    operator.close().await;
    let account = Broker::connect(&broker.service_config(ServiceQueue::Account))
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let refuse = Arc::new(Refuse::default());
    let consumer = tokio::spawn({
        let account = account.clone();
        let refuse = refuse.clone();
        let queue = topology.queue_name(ServiceQueue::Account.name());
        let shutdown = shutdown.clone();
        async move {
            run_consumer(
                &account,
                &queue,
                refuse,
                ConsumerOptions::default().with_concurrency(1),
                shutdown,
            )
            .await
        }
    });
    // Listing while letters still arrive would return the ones it looked
    // at behind the newcomers (a quorum queue requeues at the back), so the
    // consumer finishes first: it stops after the message in flight is
    // dead-lettered.
    let deadline = Instant::now() + Duration::from_secs(30);
    while refuse.refused.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "three messages refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    account.close().await;
    while listed(&broker).await.len() < 3 {
        assert!(Instant::now() < deadline, "three dead letters");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // list: every field, and looking changes nothing (twice, same order).
    let expected = [
        "message-incident-a",
        "message-incident-b",
        "message-incident-c",
    ];
    assert_eq!(listed(&broker).await, expected);
    let output = candorctl(&broker, &["dead-letters", "list", "-o", "json"]).await;
    let letters: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let first = &letters[0];
    assert_eq!(first["service"], "account");
    assert_eq!(first["routing_key"], "breach.reported");
    assert_eq!(first["incident_id"], "incident-a");
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("refused by the test"),
        "{first}"
    );
    assert!(
        first["dead_lettered_at"].as_str().unwrap().ends_with('Z'),
        "{first}"
    );
    assert_eq!(listed(&broker).await, expected);
    let table = candorctl(&broker, &["dead-letters", "list", "--service", "account"]).await;
    let table = text(&table.stdout);
    assert!(table.starts_with("SERVICE"), "{table}");
    assert!(
        table
            .lines()
            .any(|line| line.contains("incident-b") && line.contains("refused by the test")),
        "{table}"
    );
    let filtered = candorctl(
        &broker,
        &[
            "dead-letters",
            "list",
            "--incident",
            "incident-b",
            "-o",
            "json",
        ],
    )
    .await;
    let filtered: serde_json::Value = serde_json::from_slice(&filtered.stdout).unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let empty = candorctl(&broker, &["dead-letters", "list", "--service", "forum"]).await;
    assert_eq!(text(&empty.stdout), "no dead letters\n");

    // show: headers and the event decoded, snake_case.
    let shown = candorctl(
        &broker,
        &["dead-letters", "show", "message-incident-b", "-o", "json"],
    )
    .await;
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let letter: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(letter["payload"]["kind"], "event");
    assert_eq!(letter["payload"]["json"]["incident_id"], "incident-b");
    assert_eq!(letter["payload"]["json"]["password_reset_scope"], "all");
    assert!(
        letter["headers"][HEADER_ERROR].as_str().is_some(),
        "{letter}"
    );
    let shown = candorctl(&broker, &["dead-letters", "show", "message-incident-b"]).await;
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("routing key:     breach.reported"),
        "{shown}"
    );
    assert!(
        !shown.contains(expose(&broker.operator_config().amqp_url)),
        "{shown}"
    );
    let missing = candorctl(&broker, &["dead-letters", "show", "no-such-message"]).await;
    assert_eq!(missing.status.code(), Some(1));

    // replay: b goes back to breach.reported, counted; a and c stay, in order.
    let replayed = candorctl(
        &broker,
        &["dead-letters", "replay", "--incident", "incident-b"],
    )
    .await;
    assert!(replayed.status.success(), "{}", text(&replayed.stderr));
    assert!(text(&replayed.stdout).contains("1 replayed, 0 not replayed"));
    let queue = topology.queue_name(ServiceQueue::Account.name());
    let arrived = broker
        .get(&queue)
        .await
        .unwrap()
        .expect("the replay arrived");
    assert_eq!(arrived.routing_key, "breach.reported");
    assert_eq!(arrived.message_id.as_deref(), Some("message-incident-b"));
    assert_eq!(arrived.header(HEADER_REPLAYS).as_deref(), Some("1"));
    assert_eq!(arrived.header(HEADER_ERROR), None, "a fresh publish");
    assert_eq!(
        BreachReported::decode(arrived.body.as_slice())
            .unwrap()
            .incident_id,
        "incident-b"
    );
    assert_eq!(
        listed(&broker).await,
        ["message-incident-a", "message-incident-c"]
    );

    // purge: refused without a terminal to ask, then by message id, then all.
    let refused = candorctl(&broker, &["dead-letters", "purge"]).await;
    assert_eq!(refused.status.code(), Some(64));
    assert_eq!(listed(&broker).await.len(), 2);
    let purged = candorctl(
        &broker,
        &["dead-letters", "purge", "message-incident-a", "--yes"],
    )
    .await;
    assert!(purged.status.success(), "{}", text(&purged.stderr));
    assert_eq!(listed(&broker).await, ["message-incident-c"]);
    let purged = candorctl(&broker, &["dead-letters", "purge", "--yes"]).await;
    assert!(text(&purged.stdout).contains("1 dead letters purged"));
    assert!(listed(&broker).await.is_empty());
}

#[tokio::test]
async fn a_key_only_a_service_publishes_is_not_replayed_and_stays() {
    let broker = TestBroker::new();
    broker.declare_all().await.unwrap();
    // A dead letter of the account service's own key, as a consumer writes it.
    let channel = broker.channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut headers = FieldTable::default();
    headers.insert(
        "x-candor-original-routing-key".into(),
        candor_testkit::rabbitmq::text_header("breach.accounts_affected"),
    );
    headers.insert(
        HEADER_ERROR.into(),
        candor_testkit::rabbitmq::text_header("database down"),
    );
    channel
        .basic_publish(
            broker.topology().dead_letter_exchange().as_str().into(),
            broker.topology().queue_name("notification").as_str().into(),
            lapin::options::BasicPublishOptions::default(),
            b"",
            lapin::BasicProperties::default()
                .with_message_id("affected-1".into())
                .with_headers(headers),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let env = |broker: &TestBroker| {
        vec![
            ("AMQP_URL", broker.url().to_owned()),
            ("AMQP_NAMESPACE", broker.namespace().to_owned()),
        ]
    };
    let env = env(&broker);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = crate::candorctl(
        &["dead-letters", "replay", "--service", "notification"],
        &env,
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("not replayed affected-1") && stderr.contains("account service"),
        "{stderr}"
    );
    let left = crate::candorctl(&["dead-letters", "list", "-o", "json"], &env);
    let letters: serde_json::Value = serde_json::from_slice(&left.stdout).unwrap();
    assert_eq!(letters[0]["message_id"], "affected-1");
    assert_eq!(letters[0]["reason"], "database down");
}
