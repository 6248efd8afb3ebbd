//! The outbox and its relay against the real PostgreSQL and RabbitMQ.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_platform::config::AmqpConfig;
use candor_platform::messaging::{
    Broker, CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF, IncomingMessage, Publisher, QueueSpec,
};
use candor_platform::outbox::{self, OutboxRelay};
use candor_testkit::database::TestDatabase;
use candor_testkit::rabbitmq::TestBroker;
use prost::{Message, Name};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::messaging::{
    DEADLINE, FnHandler, RunningConsumer, TestEvent, broker, current_trace_id, event, fast_options,
    ids, recording_handler, trace_subscriber, wait_until,
};

pub(crate) struct RunningRelay {
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningRelay {
    pub(crate) fn start(pool: &PgPool, config: &AmqpConfig) -> Self {
        Self::start_on(pool, broker(config))
    }

    /// A relay publishing through `broker` (shared with a consumer, as in a service).
    pub(crate) fn start_on(pool: &PgPool, broker: Broker) -> Self {
        let relay = OutboxRelay::new(pool.clone(), Publisher::new(broker))
            .with_poll_interval(Duration::from_millis(500))
            .with_error_backoff(Duration::from_millis(50), Duration::from_millis(500));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(relay.run(shutdown.clone()));
        Self { shutdown, task }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

pub(crate) async fn enqueue_events(
    pool: &PgPool,
    routing_key: &str,
    events: &[TestEvent],
) -> Vec<Uuid> {
    let mut transaction = pool.begin().await.unwrap();
    let mut message_ids = Vec::new();
    for event in events {
        message_ids.push(
            outbox::enqueue_message(&mut transaction, routing_key, event)
                .await
                .unwrap(),
        );
    }
    transaction.commit().await.unwrap();
    message_ids
}

async fn pending_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM candor_outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub(crate) async fn wait_until_nothing_pending(pool: &PgPool) {
    let deadline = Instant::now() + DEADLINE;
    while pending_rows(pool).await > 0 {
        assert!(Instant::now() < deadline, "outbox rows still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn relay_delivers_every_committed_event_as_written_and_nothing_rolled_back() {
    let database = TestDatabase::create_migrated().await.unwrap();
    let pool = database.pool();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("outbox", ["test.#"]))
        .await
        .unwrap();
    let received = Arc::new(Mutex::new(Vec::<IncomingMessage>::new()));
    let handler = FnHandler({
        let received = received.clone();
        move |message: &IncomingMessage| {
            received.lock().unwrap().push(message.clone());
            Ok(())
        }
    });
    // One at a time, so the order of handling is the order of publishing.
    let consumer = RunningConsumer::start(
        &broker(&test_broker.config()),
        &queue,
        handler,
        fast_options().with_concurrency(1),
    );

    // (routing key, content type, message type, payload) by message id.
    let mut expected = BTreeMap::new();
    // Committed before the relay runs: what a restart finds waiting.
    let early: Vec<TestEvent> = (0..600).map(|n| event(&format!("early-{n}"), n)).collect();
    for (id, event) in enqueue_events(pool, "test.early", &early)
        .await
        .into_iter()
        .zip(&early)
    {
        let payload = event.encode_to_vec();
        expected.insert(
            id,
            (
                "test.early",
                CONTENT_TYPE_PROTOBUF,
                Some(TestEvent::full_name()),
                payload,
            ),
        );
    }
    let relay = RunningRelay::start(pool, &test_broker.config());

    let mut rolled_back = pool.begin().await.unwrap();
    let rolled_back_id =
        outbox::enqueue_message(&mut rolled_back, "test.late", &event("rolled-back", 0))
            .await
            .unwrap();
    rolled_back.rollback().await.unwrap();

    let late: Vec<TestEvent> = (600..1_100)
        .map(|n| event(&format!("late-{n}"), n))
        .collect();
    for (id, event) in enqueue_events(pool, "test.late", &late)
        .await
        .into_iter()
        .zip(&late)
    {
        let payload = event.encode_to_vec();
        expected.insert(
            id,
            (
                "test.late",
                CONTENT_TYPE_PROTOBUF,
                Some(TestEvent::full_name()),
                payload,
            ),
        );
    }
    let json = br#"{"incidentId":"inc-1"}"#.to_vec();
    let mut transaction = pool.begin().await.unwrap();
    let json_id = outbox::enqueue_with_content_type(
        &mut transaction,
        "test.json",
        None,
        CONTENT_TYPE_JSON,
        json.clone(),
    )
    .await
    .unwrap();
    transaction.commit().await.unwrap();
    expected.insert(json_id, ("test.json", CONTENT_TYPE_JSON, None, json));

    wait_until("every committed event arrives", || {
        received.lock().unwrap().len() >= expected.len()
    })
    .await;
    wait_until_nothing_pending(pool).await;
    relay.stop().await;
    consumer.stop().await;

    let received = received.lock().unwrap().clone();
    let received_ids: BTreeSet<Uuid> = received
        .iter()
        .map(|message| message.message_id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(received.len(), expected.len(), "no duplicates");
    assert_eq!(
        received_ids,
        expected.keys().copied().collect::<BTreeSet<_>>()
    );
    assert!(!received_ids.contains(&rolled_back_id));
    for message in &received {
        let id: Uuid = message.message_id.as_deref().unwrap().parse().unwrap();
        let (routing_key, content_type, message_type, payload) = &expected[&id];
        assert_eq!(message.routing_key, *routing_key);
        assert_eq!(message.content_type.as_deref(), Some(*content_type));
        assert_eq!(&message.message_type, message_type);
        assert_eq!(&message.body, payload);
    }
    // Published in id order: the sequence numbers only grow.
    let sequences: Vec<u64> = received
        .iter()
        .filter(|message| message.content_type.as_deref() == Some(CONTENT_TYPE_PROTOBUF))
        .map(|message| TestEvent::decode(message.body.as_slice()).unwrap().sequence)
        .collect();
    assert!(
        sequences.windows(2).all(|pair| pair[0] < pair[1]),
        "out of order"
    );
}

#[tokio::test]
async fn rows_written_while_the_broker_is_unreachable_are_delivered_after_it_returns() {
    let database = TestDatabase::create_migrated().await.unwrap();
    let pool = database.pool();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("outage", ["test.#"]))
        .await
        .unwrap();
    let (received, handler) = recording_handler();
    let consumer = RunningConsumer::start(
        &broker(&test_broker.config()),
        &queue,
        handler,
        fast_options(),
    );
    let (proxy, proxied) = test_broker.proxied_config().await.unwrap();
    let relay = RunningRelay::start(pool, &proxied);

    enqueue_events(pool, "test.outage", &[event("first", 0)]).await;
    wait_until("the relay is connected and delivers", || {
        ids(&received) == ["first"]
    })
    .await;

    proxy.cut();
    let during: Vec<TestEvent> = (1..=20).map(|n| event(&format!("during-{n}"), n)).collect();
    enqueue_events(pool, "test.outage", &during).await;
    // The relay tried and failed: every row is still pending with an attempt recorded.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let tried: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM candor_outbox WHERE published_at IS NULL AND attempts > 0 AND last_error IS NOT NULL",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if tried == 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not try while the broker was unreachable"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ids(&received), ["first"]);

    proxy.restore();
    wait_until("rows written during the outage arrive", || {
        let ids: BTreeSet<String> = ids(&received).into_iter().collect();
        during.iter().all(|event| ids.contains(&event.id))
    })
    .await;
    wait_until_nothing_pending(pool).await;
    relay.stop().await;
    consumer.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn outbox_events_carry_the_trace_of_the_enqueuing_span() {
    let _subscriber = trace_subscriber();
    let database = TestDatabase::create_migrated().await.unwrap();
    let pool = database.pool();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("traced-outbox", ["test.#"]))
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let handler = FnHandler({
        let seen = seen.clone();
        move |_: &IncomingMessage| {
            *seen.lock().unwrap() = Some(current_trace_id());
            Ok(())
        }
    });
    let consumer = RunningConsumer::start(
        &broker(&test_broker.config()),
        &queue,
        handler,
        fast_options(),
    );
    let relay = RunningRelay::start(pool, &test_broker.config());

    let root = tracing::info_span!("register member");
    let expected = root.in_scope(current_trace_id);
    async { enqueue_events(pool, "test.traced", &[event("traced", 1)]).await }
        .instrument(root)
        .await;

    wait_until("the event is handled", || seen.lock().unwrap().is_some()).await;
    assert_eq!(seen.lock().unwrap().unwrap(), expected);
    relay.stop().await;
    consumer.stop().await;
}
