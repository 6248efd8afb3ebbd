//! Publisher, consumer and topology against the real RabbitMQ.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_platform::config::AmqpConfig;
use candor_platform::messaging::ownership::MAX_EVENT_MESSAGE_BYTES;
use candor_platform::messaging::{
    Broker, CONTENT_TYPE_PROTOBUF, ConsumerOptions, HEADER_ATTEMPTS, HEADER_DEAD_LETTERED_AT,
    HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY, HandlerError, IncomingMessage, MessageHandler,
    OutgoingMessage, PublishError, Publisher, QueueSpec, RoutingPolicy, run_consumer,
};
use candor_testkit::rabbitmq::{TestBroker, test_user};
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider};
use prost::Message;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// How long a test waits for something that should happen in milliseconds;
/// generous because the CI machine has 2 busy cores.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);
pub(crate) const ROUTING_KEY: &str = "test.event";

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TestEvent {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(uint64, tag = "2")]
    pub sequence: u64,
}

impl prost::Name for TestEvent {
    const NAME: &'static str = "TestEvent";
    const PACKAGE: &'static str = "candor.test.v1";
}

pub(crate) fn event(id: &str, sequence: u64) -> TestEvent {
    TestEvent {
        id: id.to_owned(),
        sequence,
    }
}

/// A handler from a plain closure.
pub(crate) struct FnHandler<F>(pub F);

impl<F> MessageHandler for FnHandler<F>
where
    F: Fn(&IncomingMessage) -> Result<(), HandlerError> + Send + Sync + 'static,
{
    fn handle(
        &self,
        message: &IncomingMessage,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        std::future::ready((self.0)(message))
    }
}

/// Polls `condition` until it holds; panics after [`DEADLINE`].
pub(crate) async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A broker handle with short reconnect delays.
pub(crate) fn broker(config: &AmqpConfig) -> Broker {
    Broker::new(config)
        .unwrap()
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

/// Short retries, and the tests' own routing keys accepted from the test
/// broker's user (besides Candor's keys from their owners).
pub(crate) fn fast_options() -> ConsumerOptions {
    ConsumerOptions::default()
        .with_retry_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .with_routing_policy(test_policy())
}

/// Candor's routes with the default owners, plus the test keys.
pub(crate) fn test_policy() -> RoutingPolicy {
    let mut policy = RoutingPolicy::from_config(&AmqpConfig::new("amqp://127.0.0.1", "unused"));
    for key in TEST_ROUTING_KEYS {
        policy = policy.with_route(key, [test_user()], MAX_EVENT_MESSAGE_BYTES);
    }
    policy
}

/// Every routing key these tests publish besides Candor's own.
const TEST_ROUTING_KEYS: [&str; 7] = [
    ROUTING_KEY,
    "test.failover",
    "test.early",
    "test.late",
    "test.json",
    "test.outage",
    "test.traced",
];

pub(crate) struct RunningConsumer {
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningConsumer {
    pub(crate) fn start<H: MessageHandler>(
        broker: &Broker,
        queue: &str,
        handler: H,
        options: ConsumerOptions,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let broker = broker.clone();
            let queue = queue.to_owned();
            let shutdown = shutdown.clone();
            async move { run_consumer(&broker, &queue, Arc::new(handler), options, shutdown).await }
        });
        Self { shutdown, task }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("consumer did not stop")
            .unwrap()
            .unwrap();
    }
}

/// A handler that records decoded events (and dead-letters what does not decode).
/// What [`recording_handler`] saw, in order.
pub(crate) type Received = Arc<Mutex<Vec<(IncomingMessage, TestEvent)>>>;

pub(crate) fn recording_handler() -> (Received, impl MessageHandler) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let handler = FnHandler({
        let received = received.clone();
        move |message: &IncomingMessage| {
            let event = message.decode_protobuf::<TestEvent>()?;
            received.lock().unwrap().push((message.clone(), event));
            Ok(())
        }
    });
    (received, handler)
}

pub(crate) fn ids(received: &Mutex<Vec<(IncomingMessage, TestEvent)>>) -> Vec<String> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, event)| event.id.clone())
        .collect()
}

/// Installs an OpenTelemetry-backed subscriber for this thread (tests using it
/// run on the current-thread runtime, so every task sees it).
pub(crate) fn trace_subscriber() -> tracing::subscriber::DefaultGuard {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_default(subscriber)
}

pub(crate) fn current_trace_id() -> TraceId {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
}

#[tokio::test]
async fn malformed_message_is_dead_lettered_with_its_reason_and_the_next_is_processed() {
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("malformed", [ROUTING_KEY]))
        .await
        .unwrap();
    let broker = broker(&test_broker.config());
    let (received, handler) = recording_handler();
    let consumer = RunningConsumer::start(&broker, &queue, handler, fast_options());

    let garbage = vec![0xff, 0xff, 0xff, 0xff];
    let garbage_id = test_broker
        .publish_raw(ROUTING_KEY, Some(CONTENT_TYPE_PROTOBUF), &garbage)
        .await
        .unwrap();
    let text_id = test_broker
        .publish_raw(ROUTING_KEY, Some("text/plain"), b"hello")
        .await
        .unwrap();
    test_broker
        .publish_raw(
            ROUTING_KEY,
            Some(CONTENT_TYPE_PROTOBUF),
            &event("good", 1).encode_to_vec(),
        )
        .await
        .unwrap();

    wait_until("the good message is handled", || ids(&received) == ["good"]).await;
    let dead = test_broker
        .wait_for_dead_letters("malformed", 2, DEADLINE)
        .await
        .unwrap();
    let garbage_letter = dead
        .iter()
        .find(|m| m.message_id.as_deref() == Some(&garbage_id))
        .unwrap();
    assert_eq!(garbage_letter.body, garbage);
    assert!(
        garbage_letter
            .header(HEADER_ERROR)
            .unwrap()
            .contains("invalid protobuf")
    );
    assert_eq!(
        garbage_letter
            .header(HEADER_ORIGINAL_ROUTING_KEY)
            .as_deref(),
        Some(ROUTING_KEY)
    );
    assert_eq!(garbage_letter.header(HEADER_ATTEMPTS).as_deref(), Some("1"));
    let dead_lettered_at = garbage_letter.header(HEADER_DEAD_LETTERED_AT).unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&dead_lettered_at).is_ok(),
        "{dead_lettered_at}"
    );
    let text_letter = dead
        .iter()
        .find(|m| m.message_id.as_deref() == Some(&text_id))
        .unwrap();
    assert!(
        text_letter
            .header(HEADER_ERROR)
            .unwrap()
            .contains("unsupported content type")
    );
    assert_eq!(text_letter.content_type.as_deref(), Some("text/plain"));
    consumer.stop().await;
}

#[tokio::test]
async fn transient_failure_is_retried_then_succeeds() {
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("transient", [ROUTING_KEY]))
        .await
        .unwrap();
    let broker = broker(&test_broker.config());
    let calls = Arc::new(AtomicU32::new(0));
    let succeeded = Arc::new(AtomicBool::new(false));
    let handler = FnHandler({
        let (calls, succeeded) = (calls.clone(), succeeded.clone());
        move |_: &IncomingMessage| {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(HandlerError::Transient(anyhow::anyhow!(
                    "database unavailable"
                )));
            }
            succeeded.store(true, Ordering::SeqCst);
            Ok(())
        }
    });
    let consumer = RunningConsumer::start(&broker, &queue, handler, fast_options());

    test_broker
        .publish_raw(
            ROUTING_KEY,
            Some(CONTENT_TYPE_PROTOBUF),
            &event("retry", 1).encode_to_vec(),
        )
        .await
        .unwrap();
    wait_until("the third attempt succeeds", || {
        succeeded.load(Ordering::SeqCst)
    })
    .await;
    consumer.stop().await;

    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Acked: nothing went back to the queue when the channel closed, and
    // nothing was dead-lettered.
    assert!(test_broker.get(&queue).await.unwrap().is_none());
    let dead_letter_queue = test_broker.topology().dead_letter_queue_name("transient");
    assert!(test_broker.get(&dead_letter_queue).await.unwrap().is_none());
}

#[tokio::test]
async fn permanently_failing_handler_dead_letters_after_the_retry_limit() {
    let test_broker = TestBroker::new();
    let mut config = test_broker.config();
    config.amqp_handler_attempts = 3;
    let queue = test_broker
        .declare_queue(&QueueSpec::new("failing", [ROUTING_KEY]))
        .await
        .unwrap();
    let broker = broker(&config);
    let calls = Arc::new(AtomicU32::new(0));
    let handler = FnHandler({
        let calls = calls.clone();
        move |_: &IncomingMessage| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(HandlerError::Transient(anyhow::anyhow!(
                "database unavailable"
            )))
        }
    });
    let consumer = RunningConsumer::start(&broker, &queue, handler, fast_options());

    let message_id = test_broker
        .publish_raw(
            ROUTING_KEY,
            Some(CONTENT_TYPE_PROTOBUF),
            &event("doomed", 1).encode_to_vec(),
        )
        .await
        .unwrap();
    let dead = test_broker
        .wait_for_dead_letters("failing", 1, DEADLINE)
        .await
        .unwrap();
    consumer.stop().await;

    assert_eq!(dead[0].message_id.as_deref(), Some(message_id.as_str()));
    assert_eq!(dead[0].header(HEADER_ATTEMPTS).as_deref(), Some("3"));
    let reason = dead[0].header(HEADER_ERROR).unwrap();
    assert!(
        reason.contains("failed after 3 attempts") && reason.contains("database unavailable"),
        "{reason}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn consumer_resumes_after_the_connection_is_cut_and_restored() {
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("resume", [ROUTING_KEY]))
        .await
        .unwrap();
    let (proxy, proxied) = test_broker.proxied_config().await.unwrap();
    let broker = broker(&proxied);
    let (received, handler) = recording_handler();
    let consumer = RunningConsumer::start(&broker, &queue, handler, fast_options());

    let publish = |id: &'static str| {
        let body = event(id, 0).encode_to_vec();
        let test_broker = &test_broker;
        async move {
            test_broker
                .publish_raw(ROUTING_KEY, None, &body)
                .await
                .unwrap()
        }
    };
    publish("before").await;
    wait_until("the first message is handled", || {
        ids(&received).contains(&"before".to_owned())
    })
    .await;

    proxy.cut();
    // Keep the broker unreachable for a while (the consumer has to retry),
    // and publish only once the old connection is surely gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish("during").await;
    proxy.restore();
    publish("after").await;

    wait_until("messages sent during and after the cut are handled", || {
        let ids = ids(&received);
        ids.contains(&"during".to_owned()) && ids.contains(&"after".to_owned())
    })
    .await;
    consumer.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn trace_id_survives_a_publish_consume_hop() {
    let _subscriber = trace_subscriber();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("traced", [ROUTING_KEY]))
        .await
        .unwrap();
    let broker = broker(&test_broker.config());
    let seen = Arc::new(Mutex::new(None));
    let handler = FnHandler({
        let seen = seen.clone();
        move |_: &IncomingMessage| {
            *seen.lock().unwrap() = Some(current_trace_id());
            Ok(())
        }
    });
    let consumer = RunningConsumer::start(&broker, &queue, handler, fast_options());

    let root = tracing::info_span!("breach reported");
    let expected = root.in_scope(current_trace_id);
    assert_ne!(expected, TraceId::INVALID);
    let publisher = Publisher::new(broker.clone());
    async {
        publisher
            .publish(OutgoingMessage::from_protobuf(ROUTING_KEY, &event("t", 1)))
            .await
    }
    .instrument(root)
    .await
    .unwrap();

    wait_until("the message is handled", || seen.lock().unwrap().is_some()).await;
    assert_eq!(seen.lock().unwrap().unwrap(), expected);
    consumer.stop().await;
}

#[tokio::test]
async fn unroutable_mandatory_publish_is_an_error() {
    let test_broker = TestBroker::new();
    // Twice: declaring the topology is idempotent, as every service does it.
    test_broker.declare_all().await.unwrap();
    test_broker.declare_all().await.unwrap();
    let publisher = Publisher::new(broker(&test_broker.config()));

    let error = publisher
        .publish(OutgoingMessage::new("nobody.listens", b"x".to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            PublishError::Returned {
                reply_code: 312,
                ..
            }
        ),
        "{error}"
    );
    // The same channel still publishes routable messages.
    publisher
        .publish(OutgoingMessage::new("breach.reported", b"x".to_vec()))
        .await
        .unwrap();
    let batch = vec![
        OutgoingMessage::new("account.deactivated", b"y".to_vec()),
        OutgoingMessage::new("nobody.listens", b"z".to_vec()),
    ];
    assert!(matches!(
        publisher.publish_batch(batch).await,
        Err(PublishError::Returned { .. })
    ));
}

/// Blocks in the handler until the test releases it.
struct GatedHandler {
    started: AtomicBool,
    release: Semaphore,
    finished: AtomicBool,
}

struct SharedGate(Arc<GatedHandler>);

impl MessageHandler for SharedGate {
    fn handle(&self, _: &IncomingMessage) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let gate = &self.0;
        async move {
            gate.started.store(true, Ordering::SeqCst);
            gate.release.acquire().await.unwrap().forget();
            gate.finished.store(true, Ordering::SeqCst);
            Ok(())
        }
    }
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_handler_finish() {
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("shutdown", [ROUTING_KEY]))
        .await
        .unwrap();
    let broker = broker(&test_broker.config());
    let gate = Arc::new(GatedHandler {
        started: AtomicBool::new(false),
        release: Semaphore::new(0),
        finished: AtomicBool::new(false),
    });
    let consumer =
        RunningConsumer::start(&broker, &queue, SharedGate(gate.clone()), fast_options());
    test_broker
        .publish_raw(ROUTING_KEY, None, b"first")
        .await
        .unwrap();
    wait_until("the handler started", || {
        gate.started.load(Ordering::SeqCst)
    })
    .await;

    consumer.shutdown.cancel();
    let second = test_broker
        .publish_raw(ROUTING_KEY, None, b"second")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !consumer.task.is_finished(),
        "the consumer must wait for its handler"
    );
    gate.release.add_permits(1);
    tokio::time::timeout(DEADLINE, consumer.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(gate.finished.load(Ordering::SeqCst));

    // The first message was acked; the second was not taken and is back.
    let deadline = Instant::now() + DEADLINE;
    let left = loop {
        if let Some(message) = test_broker.get(&queue).await.unwrap() {
            break message;
        }
        assert!(
            Instant::now() < deadline,
            "the second message did not return to the queue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(left.message_id.as_deref(), Some(second.as_str()));
    assert!(test_broker.get(&queue).await.unwrap().is_none());
}
