//! Trust on the event bus, against the real RabbitMQ with per-test users
//! made from the generated broker definitions: consumers accept a routing
//! key only from its owner and within its size limit; the broker refuses a
//! service publishing another's key or touching another's queue, and an
//! operator publishing anything but `breach.reported`.

use std::sync::{Arc, Mutex};

use candor_platform::config::AmqpConfig;
use candor_platform::messaging::ownership::{MAX_BATCH_MESSAGE_BYTES, MAX_EVENT_MESSAGE_BYTES};
use candor_platform::messaging::{
    Broker, ConsumerOptions, HEADER_ATTEMPTS, HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY,
    HEADER_ORIGINAL_USER_ID, HandlerError, IncomingMessage, OutgoingMessage, PublishError,
    Publisher, QueueSpec, ServiceQueue,
};
use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, BREACH_ACCOUNTS_AFFECTED, BREACH_REPORTED, FORUM_INCIDENT_THREAD_OPENED,
    ROUTING_KEYS,
};
use candor_testkit::rabbitmq::{ReceivedMessage, TestBroker};
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use std::time::Duration;

use crate::messaging::{DEADLINE, FnHandler, RunningConsumer, broker, wait_until};

/// Seen by the handler: (routing key, user_id).
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

fn recording() -> (
    Seen,
    FnHandler<impl Fn(&IncomingMessage) -> Result<(), HandlerError>>,
) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let handler = FnHandler({
        let seen = seen.clone();
        move |message: &IncomingMessage| {
            seen.lock()
                .unwrap()
                .push((message.routing_key.clone(), message.user_id.clone()));
            Ok(())
        }
    });
    (seen, handler)
}

fn options() -> ConsumerOptions {
    ConsumerOptions::default()
        .with_retry_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

fn letter_for<'a>(letters: &'a [ReceivedMessage], message_id: &str) -> &'a ReceivedMessage {
    letters
        .iter()
        .find(|letter| letter.message_id.as_deref() == Some(message_id))
        .unwrap_or_else(|| panic!("no dead letter for {message_id}"))
}

async fn publish_as(config: &AmqpConfig, message: OutgoingMessage) -> Result<(), PublishError> {
    let broker = broker(config);
    let outcome = Publisher::new(broker.clone()).publish(message).await;
    broker.close().await;
    outcome
}

/// The broker closed the channel with 403 ACCESS_REFUSED.
fn assert_refused(outcome: Result<(), impl std::fmt::Display>, what: &str) {
    match outcome {
        Ok(()) => panic!("{what}: the broker accepted it"),
        Err(error) => {
            let text = error.to_string();
            assert!(
                text.contains("ACCESS_REFUSED") || text.contains("ACCESSREFUSED"),
                "{what}: not refused for access but {text}"
            );
        }
    }
}

#[tokio::test]
async fn forged_events_are_dead_lettered_with_their_reason_before_any_decoding() {
    let test_broker = TestBroker::with_users().await.unwrap();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("trust", ROUTING_KEYS))
        .await
        .unwrap();
    let consumer_broker = broker(&test_broker.config());
    let (seen, handler) = recording();
    let consumer = RunningConsumer::start(&consumer_broker, &queue, handler, options());
    let account_user = test_broker.service_user(ServiceQueue::Account);
    let forum_user = test_broker.service_user(ServiceQueue::Forum);

    // The helper user (guest) may publish anything, as a misconfigured
    // permission would allow: the consumer still refuses it.
    let mut forged = Vec::new();
    for routing_key in [
        ACCOUNT_DEACTIVATED,
        FORUM_INCIDENT_THREAD_OPENED,
        BREACH_ACCOUNTS_AFFECTED,
        BREACH_REPORTED,
    ] {
        let id = test_broker
            .publish_raw(routing_key, None, b"forged")
            .await
            .unwrap();
        forged.push((routing_key, id));
    }
    let anonymous = test_broker
        .publish_with_user_id(ACCOUNT_DEACTIVATED, None, b"anonymous", None)
        .await
        .unwrap();
    // The owner's message, and the owner's over-size one.
    let account = test_broker.service_config(ServiceQueue::Account);
    let owned = OutgoingMessage::new(ACCOUNT_DEACTIVATED, b"owned".to_vec());
    let owned_id = owned.message_id.clone();
    publish_as(&account, owned).await.unwrap();
    let oversize = OutgoingMessage::new(ACCOUNT_DEACTIVATED, vec![0; MAX_EVENT_MESSAGE_BYTES + 1]);
    let oversize_id = oversize.message_id.clone();
    publish_as(&account, oversize).await.unwrap();

    let letters = test_broker
        .wait_for_dead_letters("trust", 6, DEADLINE)
        .await
        .unwrap();
    let helper = test_broker.helper_user();
    let operator = &test_broker.operator_config().amqp_operator_users[0];
    for (routing_key, id) in &forged {
        let owner = match *routing_key {
            FORUM_INCIDENT_THREAD_OPENED => &forum_user,
            BREACH_REPORTED => operator,
            _ => &account_user,
        };
        let letter = letter_for(&letters, id);
        assert_eq!(
            letter.header(HEADER_ERROR).unwrap(),
            format!(
                "untrusted publisher: {routing_key} is accepted only from user \"{owner}\", this message came from \"{helper}\""
            )
        );
        assert_eq!(
            letter.header(HEADER_ORIGINAL_USER_ID).as_deref(),
            Some(helper.as_str())
        );
        assert_eq!(
            letter.header(HEADER_ORIGINAL_ROUTING_KEY).as_deref(),
            Some(*routing_key)
        );
        assert_eq!(letter.header(HEADER_ATTEMPTS).as_deref(), Some("0"));
    }
    assert_eq!(
        letter_for(&letters, &anonymous)
            .header(HEADER_ERROR)
            .unwrap(),
        format!(
            "untrusted publisher: account.deactivated is accepted only from user \"{account_user}\", this message has no user_id"
        )
    );
    let oversize_letter = letter_for(&letters, &oversize_id);
    assert_eq!(
        oversize_letter.header(HEADER_ERROR).unwrap(),
        format!(
            "message too large: account.deactivated accepts at most {MAX_EVENT_MESSAGE_BYTES} bytes, this one has {}",
            MAX_EVENT_MESSAGE_BYTES + 1
        )
    );
    assert_eq!(oversize_letter.body.len(), MAX_EVENT_MESSAGE_BYTES + 1);

    wait_until("the owner's message is handled", || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    // Nothing else reached the handler.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        *seen.lock().unwrap(),
        [(ACCOUNT_DEACTIVATED.to_owned(), Some(account_user.clone()))]
    );
    assert!(
        letters
            .iter()
            .all(|letter| letter.message_id.as_deref() != Some(&owned_id))
    );
    consumer.stop().await;
}

#[tokio::test]
async fn the_broker_keeps_each_service_to_its_own_keys_and_queues() {
    let test_broker = TestBroker::with_users().await.unwrap();
    let topology = test_broker.topology();
    let forum = test_broker.service_config(ServiceQueue::Forum);

    publish_as(
        &forum,
        OutgoingMessage::new(FORUM_INCIDENT_THREAD_OPENED, b"own".to_vec()),
    )
    .await
    .unwrap();
    for routing_key in [
        ACCOUNT_DEACTIVATED,
        BREACH_ACCOUNTS_AFFECTED,
        BREACH_REPORTED,
    ] {
        assert_refused(
            publish_as(
                &forum,
                OutgoingMessage::new(routing_key, b"forged".to_vec()),
            )
            .await,
            &format!("forum publishing {routing_key}"),
        );
    }
    let membership = test_broker.service_config(ServiceQueue::Membership);
    assert_refused(
        publish_as(
            &membership,
            OutgoingMessage::new(ACCOUNT_DEACTIVATED, b"forged".to_vec()),
        )
        .await,
        "membership publishing account.deactivated",
    );

    // Another service's queue: no declare, no consume; its own queue bound
    // to a key it does not consume: refused too.
    let forum_broker = Broker::connect(&forum).await.unwrap();
    let account_queue = topology.queue_name(ServiceQueue::Account.name());
    let channel = forum_broker.channel().await.unwrap();
    assert_refused(
        channel
            .queue_declare(
                account_queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map(drop),
        "forum declaring account's queue",
    );
    let channel = forum_broker.channel().await.unwrap();
    assert_refused(
        channel
            .basic_consume(
                account_queue.as_str().into(),
                "thief".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map(drop),
        "forum consuming account's queue",
    );
    let channel = forum_broker.channel().await.unwrap();
    assert_refused(
        channel
            .queue_bind(
                topology
                    .queue_name(ServiceQueue::Forum.name())
                    .as_str()
                    .into(),
                topology.events_exchange().as_str().into(),
                BREACH_ACCOUNTS_AFFECTED.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await,
        "forum binding its queue to breach.accounts_affected",
    );
    forum_broker.close().await;
}

#[tokio::test]
async fn an_operator_publishes_breach_reported_and_nothing_else() {
    let test_broker = TestBroker::with_users().await.unwrap();
    let operator = test_broker.operator_config();
    publish_as(
        &operator,
        OutgoingMessage::new(BREACH_REPORTED, b"{}".to_vec()),
    )
    .await
    .unwrap();
    for routing_key in [
        ACCOUNT_DEACTIVATED,
        FORUM_INCIDENT_THREAD_OPENED,
        BREACH_ACCOUNTS_AFFECTED,
    ] {
        assert_refused(
            publish_as(
                &operator,
                OutgoingMessage::new(routing_key, b"forged".to_vec()),
            )
            .await,
            &format!("operator publishing {routing_key}"),
        );
    }
    let operator_broker = Broker::connect(&operator).await.unwrap();
    let channel = operator_broker.channel().await.unwrap();
    assert_refused(
        channel
            .queue_declare(
                "operator-queue".into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .map(drop),
        "operator declaring a queue",
    );
    operator_broker.close().await;
}

#[tokio::test]
async fn a_restricted_service_declares_its_own_queue_and_dead_letters_there() {
    let test_broker = TestBroker::with_users().await.unwrap();
    let notification = test_broker.service_config(ServiceQueue::Notification);
    let topology = test_broker.topology();
    let notification_broker = broker(&notification);

    // The whole topology is not the notification user's to declare; its
    // own part is (AMQP_DECLARE_TOPOLOGY=own).
    let channel = notification_broker.channel().await.unwrap();
    let everything = topology.declare_all(&channel, &notification).await;
    assert!(
        everything.is_err(),
        "a restricted user declared every queue"
    );
    let channel = notification_broker.channel().await.unwrap();
    topology
        .declare_for(&channel, &notification, ServiceQueue::Notification)
        .await
        .unwrap();

    let handler = FnHandler(|message: &IncomingMessage| {
        Err(HandlerError::invalid(format!(
            "cannot decode {} bytes",
            message.body.len()
        )))
    });
    let queue = topology.queue_name(ServiceQueue::Notification.name());
    let consumer = RunningConsumer::start(&notification_broker, &queue, handler, options());
    let forged = test_broker
        .publish_raw(ACCOUNT_DEACTIVATED, None, b"forged")
        .await
        .unwrap();
    let account = test_broker.service_config(ServiceQueue::Account);
    let invalid = OutgoingMessage::new(BREACH_ACCOUNTS_AFFECTED, vec![1; MAX_BATCH_MESSAGE_BYTES]);
    let invalid_id = invalid.message_id.clone();
    publish_as(&account, invalid).await.unwrap();

    let letters = test_broker
        .wait_for_dead_letters("notification", 2, DEADLINE)
        .await
        .unwrap();
    assert!(
        letter_for(&letters, &forged)
            .header(HEADER_ERROR)
            .unwrap()
            .starts_with("untrusted publisher: account.deactivated")
    );
    let invalid_letter = letter_for(&letters, &invalid_id);
    assert_eq!(
        invalid_letter.header(HEADER_ERROR).unwrap(),
        format!("invalid message: cannot decode {MAX_BATCH_MESSAGE_BYTES} bytes")
    );
    assert_eq!(
        invalid_letter.header(HEADER_ORIGINAL_USER_ID),
        Some(test_broker.service_user(ServiceQueue::Account))
    );
    consumer.stop().await;
    notification_broker.close().await;
}
