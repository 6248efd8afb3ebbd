//! Incident parking against the real PostgreSQL and RabbitMQ: park, the
//! bounded drain through the service's handler, the sweep, expiry to the
//! dead-letter queue.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_platform::messaging::{
    HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY, HandlerError, IncomingMessage, MessageHandler,
    Publisher, QueueSpec,
};
use candor_platform::parking::{
    self, DrainReport, IncidentHandler, IncidentParking, ParkingOptions, SweepReport,
};
use candor_testkit::database::TestDatabase;
use candor_testkit::rabbitmq::TestBroker;
use lapin::types::AMQPValue;
use prost::Message;
use sqlx::PgPool;

use crate::messaging::{DEADLINE, ROUTING_KEY, TestEvent, broker, event};

/// A service's handler in miniature: a message of a known incident is
/// applied (recorded here), one of an unknown incident is parked under the
/// incident's lock; `refused` sequences are invalid once applied.
struct Incidents {
    pool: PgPool,
    known: Mutex<BTreeSet<String>>,
    applied: Mutex<Vec<(String, u64)>>,
    headers: Mutex<Vec<Option<String>>>,
    refused: Option<u64>,
}

impl Incidents {
    fn new(pool: &PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool: pool.clone(),
            known: Mutex::default(),
            applied: Mutex::default(),
            headers: Mutex::default(),
            refused: None,
        })
    }

    fn record(&self, incident_id: &str) {
        self.known.lock().unwrap().insert(incident_id.to_owned());
    }

    fn applied(&self) -> Vec<(String, u64)> {
        self.applied.lock().unwrap().clone()
    }
}

impl MessageHandler for Incidents {
    async fn handle(&self, message: &IncomingMessage) -> Result<(), HandlerError> {
        let event: TestEvent = message.decode_protobuf()?;
        let known = self.known.lock().unwrap().contains(&event.id);
        if known {
            if self.refused == Some(event.sequence) {
                return Err(HandlerError::invalid("sequence refused"));
            }
            self.headers.lock().unwrap().push(message.header("x-test"));
            self.applied
                .lock()
                .unwrap()
                .push((event.id, event.sequence));
            return Ok(());
        }
        let mut transaction = self.pool.begin().await?;
        parking::lock_incident(&mut transaction, &event.id).await?;
        parking::park(
            &mut transaction,
            &event.id,
            &event.sequence.to_string(),
            message,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }
}

impl IncidentHandler for Incidents {
    async fn incident_known(&self, incident_id: &str) -> anyhow::Result<bool> {
        Ok(self.known.lock().unwrap().contains(incident_id))
    }
}

fn message(incident_id: &str, sequence: u64) -> IncomingMessage {
    let mut message =
        IncomingMessage::new(ROUTING_KEY, event(incident_id, sequence).encode_to_vec());
    message.headers.insert(
        "x-test".into(),
        AMQPValue::LongString(format!("{incident_id}/{sequence}").into()),
    );
    message
}

async fn parked(pool: &PgPool, incident_id: &str) -> i64 {
    let mut connection = pool.acquire().await.unwrap();
    parking::parked_count(&mut connection, incident_id)
        .await
        .unwrap()
}

struct Setup {
    database: TestDatabase,
    broker: TestBroker,
    parking: IncidentParking,
}

async fn setup(name: &str, options: ParkingOptions) -> Setup {
    let database = TestDatabase::create_migrated().await.unwrap();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new(name, [ROUTING_KEY]))
        .await
        .unwrap();
    let dead_letters = Publisher::for_exchange(
        broker(&test_broker.config()),
        test_broker.topology().dead_letter_exchange(),
    );
    let parking = IncidentParking::new(database.pool().clone(), dead_letters, queue, options);
    Setup {
        database,
        broker: test_broker,
        parking,
    }
}

fn options(drain_batch: u16) -> ParkingOptions {
    ParkingOptions {
        drain_batch,
        ..ParkingOptions::default()
    }
}

#[tokio::test]
async fn parked_messages_are_applied_in_bounded_claims_through_the_handler() {
    let setup = setup("parking-drain", options(2)).await;
    let pool = setup.database.pool();
    let handler = Incidents::new(pool);
    for sequence in 1..=5 {
        handler.handle(&message("inc-1", sequence)).await.unwrap();
    }
    // A redelivery is parked once; another incident's message stays.
    handler.handle(&message("inc-1", 3)).await.unwrap();
    handler.handle(&message("inc-2", 1)).await.unwrap();
    assert_eq!(parked(pool, "inc-1").await, 5);
    assert!(
        handler.applied().is_empty(),
        "nothing applied before the incident"
    );

    handler.record("inc-1");
    let report = setup
        .parking
        .drain("inc-1", handler.as_ref())
        .await
        .unwrap();
    assert_eq!(
        report,
        DrainReport {
            applied: 5,
            dead_lettered: 0,
            // Claims of at most two rows: 2 + 2 + 1.
            claims: 3,
        }
    );
    let expected: Vec<_> = (1..=5)
        .map(|sequence| ("inc-1".to_owned(), sequence))
        .collect();
    assert_eq!(handler.applied(), expected, "in parking order");
    // The handler saw the message as it arrived, headers included.
    assert_eq!(
        handler
            .headers
            .lock()
            .unwrap()
            .first()
            .cloned()
            .flatten()
            .as_deref(),
        Some("inc-1/1")
    );
    assert_eq!(parked(pool, "inc-1").await, 0);
    assert_eq!(parked(pool, "inc-2").await, 1);

    // Draining again finds nothing.
    let again = setup
        .parking
        .drain("inc-1", handler.as_ref())
        .await
        .unwrap();
    assert_eq!(again, DrainReport::default());
    setup.broker.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_message_parked_again_during_a_drain_stays_parked() {
    let setup = setup("parking-again", options(8)).await;
    let pool = setup.database.pool();
    let handler = Incidents::new(pool);
    handler.handle(&message("inc-1", 1)).await.unwrap();
    // The incident is not known: the handler parks the message again, and
    // the drain must not remove it.
    let report = setup
        .parking
        .drain("inc-1", handler.as_ref())
        .await
        .unwrap();
    assert_eq!(report.applied, 0);
    assert_eq!(parked(pool, "inc-1").await, 1);
    setup.broker.cleanup().await.unwrap();
}

#[tokio::test]
async fn the_sweep_applies_recorded_incidents_after_a_crashed_drain_and_dead_letters_refusals() {
    let setup = setup("parking-sweep", options(8)).await;
    let pool = setup.database.pool();
    let mut handler = Incidents::new(pool);
    Arc::get_mut(&mut handler).unwrap().refused = Some(2);
    for sequence in 1..=3 {
        handler.handle(&message("inc-1", sequence)).await.unwrap();
    }
    handler.handle(&message("inc-2", 1)).await.unwrap();
    // A drain that crashed holding a claim on sequence 3: its lease keeps
    // the row from the others until it runs out.
    sqlx::query(
        "UPDATE candor_parked_messages SET claim_token = gen_random_uuid(), \
             claimed_until = now() + interval '1 hour' WHERE dedup_key = '3'",
    )
    .execute(pool)
    .await
    .unwrap();

    handler.record("inc-1");
    let report = setup.parking.sweep(handler.as_ref()).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            applied: 1,
            expired: 0,
            dead_lettered: 1,
        }
    );
    assert_eq!(handler.applied(), [("inc-1".to_owned(), 1)]);
    let dead = setup
        .broker
        .wait_for_dead_letters("parking-sweep", 1, DEADLINE)
        .await
        .unwrap();
    assert!(
        dead[0]
            .header(HEADER_ERROR)
            .unwrap()
            .contains("sequence refused"),
        "{dead:?}"
    );

    sqlx::query("UPDATE candor_parked_messages SET claimed_until = now() - interval '1 second'")
        .execute(pool)
        .await
        .unwrap();
    let report = setup.parking.sweep(handler.as_ref()).await.unwrap();
    assert_eq!(
        report.applied, 1,
        "the crashed drain's row, after its lease"
    );
    assert_eq!(parked(pool, "inc-1").await, 0);
    assert_eq!(parked(pool, "inc-2").await, 1, "its incident is unknown");
    setup.broker.cleanup().await.unwrap();
}

#[tokio::test]
async fn messages_whose_incident_never_comes_expire_to_the_dead_letter_queue() {
    let ttl = Duration::from_secs(1);
    let setup = setup(
        "parking-expiry",
        ParkingOptions {
            ttl,
            drain_batch: 2,
            ..ParkingOptions::default()
        },
    )
    .await;
    let pool = setup.database.pool();
    let handler = Incidents::new(pool);
    for sequence in 1..=3 {
        handler
            .handle(&message("never-reported", sequence))
            .await
            .unwrap();
    }
    // Parked long ago; a fresh one of the same incident stays.
    sqlx::query("UPDATE candor_parked_messages SET parked_at = now() - interval '1 day'")
        .execute(pool)
        .await
        .unwrap();
    handler.handle(&message("never-reported", 4)).await.unwrap();

    let report = setup.parking.sweep(handler.as_ref()).await.unwrap();
    assert_eq!(report.expired, 3);
    assert_eq!(parked(pool, "never-reported").await, 1);
    let dead = setup
        .broker
        .wait_for_dead_letters("parking-expiry", 3, DEADLINE)
        .await
        .unwrap();
    let mut sequences: Vec<u64> = dead
        .iter()
        .map(|letter| TestEvent::decode(letter.body.as_slice()).unwrap().sequence)
        .collect();
    sequences.sort_unstable();
    assert_eq!(sequences, [1, 2, 3], "the messages as they arrived");
    for letter in &dead {
        let reason = letter.header(HEADER_ERROR).unwrap();
        assert!(reason.contains("\"never-reported\""), "{reason}");
        assert!(reason.contains("PARKED_MESSAGE_TTL_SECONDS"), "{reason}");
        assert_eq!(
            letter.header(HEADER_ORIGINAL_ROUTING_KEY).as_deref(),
            Some(ROUTING_KEY)
        );
        assert!(letter.header("x-test").is_some(), "headers kept");
    }

    // The fresh one expires in its turn.
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    let report = setup.parking.sweep(handler.as_ref()).await.unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(parked(pool, "never-reported").await, 0);
    setup.broker.cleanup().await.unwrap();
}
