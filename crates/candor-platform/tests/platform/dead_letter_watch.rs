//! The dead-letter watch sees copies of the dead letters of one message,
//! names the service and the reason, and leaves the dead-letter queues as
//! they were.

use candor_platform::messaging::{
    Broker, DeadLetterWatch, HEADER_ERROR, OutgoingMessage, Publisher, ServiceQueue,
    WatchedDeadLetter,
};
use candor_testkit::rabbitmq::TestBroker;

/// Dead-letters a message the way a consumer does: to the dead-letter
/// exchange under the service queue's name, with the reason.
async fn dead_letter(broker: &Broker, test: &TestBroker, service: ServiceQueue, id: &str) {
    let topology = test.topology();
    Publisher::for_exchange(broker.clone(), topology.dead_letter_exchange())
        .publish(
            OutgoingMessage::new(topology.queue_name(service.name()), b"body".to_vec())
                .with_message_id(id)
                .with_header(HEADER_ERROR, format!("{} refused it", service.name())),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_watch_sees_the_dead_letters_of_one_message_and_leaves_the_queues_alone() {
    let test = TestBroker::new();
    test.declare_all().await.unwrap();
    let broker = Broker::connect(&test.config()).await.unwrap();
    let watch = DeadLetterWatch::open(broker.channel().await.unwrap(), &test.topology())
        .await
        .unwrap();

    dead_letter(&broker, &test, ServiceQueue::Forum, "watched").await;
    dead_letter(&broker, &test, ServiceQueue::Membership, "another-message").await;
    dead_letter(&broker, &test, ServiceQueue::Account, "watched").await;

    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.extend(watch.take("watched").await.unwrap());
        if seen.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen,
        [
            WatchedDeadLetter {
                service: ServiceQueue::Forum,
                reason: "forum refused it".to_owned(),
            },
            WatchedDeadLetter {
                service: ServiceQueue::Account,
                reason: "account refused it".to_owned(),
            },
        ]
    );
    watch.close().await;

    // Every dead letter is still in its dead-letter queue.
    for (service, id) in [
        ("forum", "watched"),
        ("membership", "another-message"),
        ("account", "watched"),
    ] {
        let queue = test.topology().dead_letter_queue_name(service);
        let message = test.get(&queue).await.unwrap().expect("still there");
        assert_eq!(message.message_id.as_deref(), Some(id));
    }
    broker.close().await;
}
