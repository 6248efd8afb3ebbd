//! Helpers for breach intake tests: events, an observer queue, batches.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use candor_platform::messaging::QueueSpec;
use candor_proto::events::v1::{
    AccountsAffected, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, BreachReported,
    EnumerationCompleted, PasswordResetScope,
};
use candor_proto::prost::Message as _;
use candor_testkit::rabbitmq::TestBroker;

/// The README's sample event with another id and scope.
pub fn breach(incident_id: &str, scope: PasswordResetScope) -> BreachReported {
    let mut event: BreachReported = candor_proto::decode_json(include_bytes!(
        "../../../../crates/candor-proto/tests/data/breach_reported.json"
    ))
    .unwrap();
    event.incident_id = incident_id.to_owned();
    event.password_reset_scope = scope as i32;
    event
}

/// A queue bound to what the account service publishes about breaches.
pub async fn observe(broker: &TestBroker) -> String {
    broker
        .declare_queue(&QueueSpec::new(
            "observer",
            [BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED],
        ))
        .await
        .unwrap()
}

/// Everything published for one incident, once EnumerationCompleted arrived
/// and every batch it announces too.
pub struct Published {
    pub batches: BTreeMap<u32, AccountsAffected>,
    pub completed: EnumerationCompleted,
}

pub async fn collect(broker: &TestBroker, queue: &str) -> Published {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut batches = BTreeMap::new();
    let mut completed: Option<EnumerationCompleted> = None;
    loop {
        while let Some(message) = broker.get(queue).await.unwrap() {
            match message.routing_key.as_str() {
                BREACH_ACCOUNTS_AFFECTED => {
                    let batch = AccountsAffected::decode(message.body.as_slice()).unwrap();
                    batches.insert(batch.batch_sequence, batch);
                }
                BREACH_ENUMERATION_COMPLETED => {
                    completed =
                        Some(EnumerationCompleted::decode(message.body.as_slice()).unwrap());
                }
                other => panic!("unexpected routing key {other}"),
            }
        }
        if let Some(done) = &completed
            && batches.len() as u32 >= done.batch_count
        {
            return Published {
                batches,
                completed: completed.unwrap(),
            };
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {} batches, completed {:?}",
            batches.len(),
            completed
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn publish(broker: &TestBroker, event: &BreachReported) {
    broker
        .publish_raw(
            candor_proto::events::v1::BREACH_REPORTED,
            Some(candor_proto::events::v1::CONTENT_TYPE_PROTOBUF),
            &event.encode_to_vec(),
        )
        .await
        .unwrap();
}
