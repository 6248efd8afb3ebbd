//! Several broker addresses: a consumer and the outbox relay sharing one
//! `Broker` (as a service does) move to the next address when theirs goes
//! away. Each "node" is a `TcpProxy` in front of the one test broker, so a
//! test can cut one while the other keeps answering.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use candor_platform::config::AmqpConfig;
use candor_platform::messaging::{Broker, QueueSpec, Topology};
use candor_testkit::binary::free_port;
use candor_testkit::database::TestDatabase;
use candor_testkit::rabbitmq::TestBroker;
use lapin::Channel;
use lapin::options::QueueDeleteOptions;

use crate::messaging::{
    RunningConsumer, broker, event, fast_options, ids, recording_handler, wait_until,
};
use crate::outbox::{RunningRelay, enqueue_events, wait_until_nothing_pending};

const ROUTING_KEY: &str = "test.failover";

/// Declares the test queue on every new connection of `broker`, as a
/// service declares its topology, counting the runs.
async fn declare_on_every_connection(
    broker: &Broker,
    config: &AmqpConfig,
    spec: &QueueSpec,
) -> Arc<AtomicU32> {
    let runs = Arc::new(AtomicU32::new(0));
    let topology = Topology::new(&config.amqp_namespace);
    let (config, spec, counter) = (config.clone(), spec.clone(), runs.clone());
    broker
        .on_new_connection(move |channel: Channel| {
            let (topology, config, spec, counter) = (
                topology.clone(),
                config.clone(),
                spec.clone(),
                counter.clone(),
            );
            async move {
                topology.declare_exchanges(&channel).await?;
                topology.declare_queue(&channel, &config, &spec).await?;
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .await;
    runs
}

fn label(proxy: &candor_testkit::proxy::TcpProxy) -> String {
    format!("127.0.0.1:{}", proxy.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_and_the_outbox_move_to_the_next_node_and_find_the_topology_declared_again() {
    let database = TestDatabase::create_migrated().await.unwrap();
    let pool = database.pool();
    let test_broker = TestBroker::new();
    let spec = QueueSpec::new("failover", [ROUTING_KEY]);
    let queue = test_broker.declare_queue(&spec).await.unwrap();
    let (proxies, config) = test_broker.proxied_nodes_config(2).await.unwrap();
    let broker = broker(&config);
    let hook_runs = declare_on_every_connection(&broker, &config, &spec).await;
    let (received, handler) = recording_handler();
    let consumer = RunningConsumer::start(&broker, &queue, handler, fast_options());
    let relay = RunningRelay::start_on(pool, broker.clone());

    let before: Vec<_> = (0..50).map(|n| event(&format!("before-{n}"), n)).collect();
    enqueue_events(pool, ROUTING_KEY, &before).await;
    wait_until("the events before the failover arrive", || {
        ids(&received).len() >= before.len()
    })
    .await;
    assert_eq!(broker.connected_node().await, Some(label(&proxies[0])));
    assert_eq!(
        hook_runs.load(Ordering::SeqCst),
        1,
        "the first connection ran the hook"
    );

    // The node the broker moves to has lost the queue (a broker that came
    // back without its state): only a new declaration brings it back.
    let channel = test_broker.channel().await.unwrap();
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    let during: Vec<_> = (0..50).map(|n| event(&format!("during-{n}"), n)).collect();
    enqueue_events(pool, ROUTING_KEY, &during).await;
    proxies[0].cut();
    let after: Vec<_> = (0..50).map(|n| event(&format!("after-{n}"), n)).collect();
    enqueue_events(pool, ROUTING_KEY, &after).await;

    wait_until("every event enqueued around the failover arrives", || {
        let seen: BTreeSet<String> = ids(&received).into_iter().collect();
        during
            .iter()
            .chain(&after)
            .all(|event| seen.contains(&event.id))
    })
    .await;
    wait_until_nothing_pending(pool).await;
    assert_eq!(broker.connected_node().await, Some(label(&proxies[1])));
    assert!(
        hook_runs.load(Ordering::SeqCst) >= 2,
        "the new connection declared the topology again"
    );
    relay.stop().await;
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_in_flight_when_the_node_goes_away_are_published_again_on_the_next() {
    let database = TestDatabase::create_migrated().await.unwrap();
    let pool = database.pool();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("failover-in-flight", [ROUTING_KEY]))
        .await
        .unwrap();
    // The consumer on the test broker directly: only the relay fails over.
    let (received, handler) = recording_handler();
    let consumer = RunningConsumer::start(
        &broker(&test_broker.config()),
        &queue,
        handler,
        fast_options(),
    );
    let (proxies, config) = test_broker.proxied_nodes_config(3).await.unwrap();
    let relay_broker = broker(&config);
    let events: Vec<_> = (0..3_000).map(|n| event(&format!("row-{n}"), n)).collect();
    enqueue_events(pool, ROUTING_KEY, &events).await;
    let relay = RunningRelay::start_on(pool, relay_broker.clone());

    wait_until("the relay is publishing", || ids(&received).len() >= 300).await;
    proxies[0].cut();
    wait_until("every row arrives", || {
        let seen: BTreeSet<String> = ids(&received).into_iter().collect();
        events.iter().all(|event| seen.contains(&event.id))
    })
    .await;
    wait_until_nothing_pending(pool).await;
    assert_eq!(
        relay_broker.connected_node().await,
        Some(label(&proxies[1])),
        "moved to the next node"
    );
    relay.stop().await;
    consumer.stop().await;
}

#[tokio::test]
async fn a_broker_connects_to_the_first_node_that_answers_and_names_the_failure_when_none_does() {
    let test_broker = TestBroker::new();
    let (proxies, config) = test_broker.proxied_nodes_config(1).await.unwrap();
    let nobody = free_port().unwrap();
    let url = candor_platform::config::expose(&config.amqp_url).to_owned();
    let dead = url.replace(&proxies[0].port().to_string(), &nobody.to_string());

    let mut listed = config.clone();
    listed.amqp_url = format!("{dead},{url}").into();
    let broker = Broker::connect(&listed).await.unwrap();
    assert_eq!(broker.connected_node().await, Some(label(&proxies[0])));
    broker.close().await;

    let mut none = config.clone();
    let also_dead = url.replace(
        &proxies[0].port().to_string(),
        &free_port().unwrap().to_string(),
    );
    none.amqp_url = format!("{dead},{also_dead}").into();
    let error = Broker::connect(&none).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("no node answered"), "{text}");
    assert!(
        !text.contains("guest:guest"),
        "no credentials in errors: {text}"
    );
}
