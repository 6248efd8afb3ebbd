//! A crash part way through publishing an incident: the real binary is
//! killed after some AccountsAffected batches went out, and a restart
//! publishes the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use candor_account::App;
use candor_proto::events::v1::{
    AccountsAffected, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, EnumerationCompleted,
    PasswordResetScope,
};
use candor_proto::prost::Message as _;
use candor_testkit::binary::free_port;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::rabbitmq::TestBroker;

use crate::breach::{breach, observe, publish};
use crate::helpers::{LEGACY_HASH_KEY, NotificationDouble, TestApp, config, eventually};

/// 24 full batches and one of 345: three publish steps of ten batches.
const ACCOUNTS: usize = 12_345;
const BATCHES: u32 = 25;
/// The publish cursor value past which the test holds the service.
const HELD_AFTER: i32 = 10;
/// Advisory lock key the test holds while the service is stuck.
const HOLD_KEY: i64 = 4242;

/// Everything the observer queue received so far, duplicates included.
#[derive(Default)]
struct Received {
    batches: Vec<AccountsAffected>,
    completions: Vec<EnumerationCompleted>,
}

impl Received {
    async fn drain(&mut self, broker: &TestBroker, queue: &str) {
        while let Some(message) = broker.get(queue).await.unwrap() {
            match message.routing_key.as_str() {
                BREACH_ACCOUNTS_AFFECTED => self
                    .batches
                    .push(AccountsAffected::decode(message.body.as_slice()).unwrap()),
                BREACH_ENUMERATION_COMPLETED => self
                    .completions
                    .push(EnumerationCompleted::decode(message.body.as_slice()).unwrap()),
                other => panic!("unexpected routing key {other}"),
            }
        }
    }

    /// How often each batch number arrived.
    fn counts(&self) -> BTreeMap<u32, usize> {
        let mut counts = BTreeMap::new();
        for batch in &self.batches {
            *counts.entry(batch.batch_sequence).or_default() += 1;
        }
        counts
    }
}

async fn published_rows(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM candor_outbox
         WHERE routing_key = $1 AND published_at IS NOT NULL",
    )
    .bind(BREACH_ACCOUNTS_AFFECTED)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_crash_mid_publish_is_resumed_by_a_restart_without_gaps_or_doubles() {
    candor_testkit::tracing::init();
    let environment = TestEnvironment::new().await.unwrap();
    let notifications = NotificationDouble::start().await;
    // Migrates and declares the topology; the binary below does the work.
    drop(
        App::build(config(&environment, &notifications.url))
            .await
            .unwrap(),
    );
    let pool = environment.database.pool().clone();
    sqlx::query(
        "INSERT INTO accounts (account_id, email, display_name, joined_at)
         SELECT gen_random_uuid(), 'member' || n || '@example.com', 'Member ' || n, '2010-01-01'
         FROM generate_series(1, $1) n",
    )
    .bind(i64::try_from(ACCOUNTS).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let expected: BTreeSet<String> =
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT account_id FROM accounts")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|id| id.to_string())
            .collect();

    // A test-only trigger parks the transaction that would move the publish
    // cursor past batch 10, until the test lets go of an advisory lock. So
    // the first step (batches 1..=10) commits and is relayed, the second
    // hangs uncommitted when the process dies.
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(HOLD_KEY)
        .execute(&mut *holder)
        .await
        .unwrap();
    // 4242 is HOLD_KEY and 10 HELD_AFTER (DDL takes no parameters).
    sqlx::raw_sql(
        "CREATE FUNCTION test_hold_publication() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$;
         CREATE TRIGGER test_hold_publication BEFORE UPDATE ON incidents FOR EACH ROW
         WHEN (NEW.batches_enqueued > 10) EXECUTE FUNCTION test_hold_publication();",
    )
    .execute(&pool)
    .await
    .unwrap();

    let broker = &environment.broker;
    let observer = observe(broker).await;
    let binary = environment
        .binary(env!("CARGO_BIN_EXE_candor-account"))
        .env("LEGACY_HASH_KEY", LEGACY_HASH_KEY)
        .env("GRPC_ADDR", format!("127.0.0.1:{}", free_port().unwrap()))
        .env("NOTIFICATION_GRPC_URL", notifications.url.clone())
        .spawn()
        .unwrap();
    publish(
        broker,
        &breach("crash-mid-publish", PasswordResetScope::Affected),
    )
    .await;

    // Wait until the first ten batches are confirmed and marked published
    // (so no confirm is in flight at the kill), then kill the process.
    eventually(
        Duration::from_secs(60),
        "the first publish step relayed",
        || {
            let pool = pool.clone();
            async move { (published_rows(&pool).await == i64::from(HELD_AFTER)).then_some(()) }
        },
    )
    .await;
    drop(binary); // SIGKILL, no graceful shutdown
    let mut received = Received::default();
    received.drain(broker, &observer).await;
    assert_eq!(
        received.counts().into_keys().collect::<Vec<_>>(),
        (1..=10).collect::<Vec<u32>>(),
        "only the first step went out before the crash"
    );
    assert!(received.completions.is_empty());
    let (cursor, completed): (i32, bool) = sqlx::query_as(
        "SELECT batches_enqueued, completed_at IS NOT NULL FROM incidents
         WHERE incident_id = 'crash-mid-publish'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (cursor, completed),
        (HELD_AFTER, false),
        "stopped mid-publish"
    );

    // The dead process's parked transaction goes away with its session.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER test_hold_publication ON incidents;
         DROP FUNCTION test_hold_publication();",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(HOLD_KEY)
        .execute(&mut *holder)
        .await
        .unwrap();
    drop(holder);

    // The restart gets the unacknowledged breach.reported again.
    let restarted_config = config(&environment, &notifications.url);
    let app = TestApp::start(environment, notifications, restarted_config).await;
    let broker = &app.environment.broker;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.completions.is_empty() || received.counts().len() < BATCHES as usize {
        assert!(
            Instant::now() < deadline,
            "timed out: batches {:?}, {} completions",
            received.counts(),
            received.completions.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        received.drain(broker, &observer).await;
    }
    // Anything published twice would have arrived by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    received.drain(broker, &observer).await;

    // Batches 1..=10 were confirmed and marked before the kill and the
    // parked step never committed, so this run has no in-flight window:
    // every batch arrives exactly once. (A kill between a broker confirm and
    // the relay marking its row could repeat that row; consumers dedupe on
    // incident and account.)
    let counts = received.counts();
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (1..=BATCHES).collect::<Vec<_>>()
    );
    assert!(counts.values().all(|&count| count == 1), "{counts:?}");
    let mut seen = BTreeSet::new();
    for batch in &received.batches {
        assert_eq!(batch.incident_id, "crash-mid-publish");
        for account in &batch.accounts {
            assert!(
                seen.insert(account.account_id.clone()),
                "{} published twice",
                account.account_id
            );
        }
    }
    assert_eq!(seen, expected, "the batches cover exactly the affected set");
    assert_eq!(received.completions.len(), 1, "one EnumerationCompleted");
    let completed = &received.completions[0];
    assert_eq!(completed.affected_accounts, ACCOUNTS as u64);
    assert_eq!(completed.batch_count, BATCHES);
    assert_eq!(completed.passwords_invalidated, ACCOUNTS as u64);
}
