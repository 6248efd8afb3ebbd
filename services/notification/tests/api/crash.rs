//! The real binary killed with SIGKILL while emails are in flight: after a
//! restart every member has the notice, and the re-sends are no more than
//! the progress report's `possibly_resent`. With two replicas, the one left
//! sends what the killed one held within seconds, once its lease lapsed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_testkit::binary::{RunningBinary, ServiceBinary, free_port};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;
use uuid::Uuid;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(90);
const MEMBERS: usize = 40;

fn spawn(binary: &ServiceBinary) -> (RunningBinary, u16) {
    let port = free_port().unwrap();
    let running = binary
        .clone()
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    (running, port)
}

async fn grpc_client(port: u16) -> NotificationServiceClient<tonic::transport::Channel> {
    eventually(LONG, "the gRPC server", || async {
        NotificationServiceClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .ok()
    })
    .await
}

/// The binary sending with no rate limit and `smtp_concurrency`
/// connections to `sink`, holding its claims under leases of
/// `lease_seconds`, so a killed replica's notices return that soon.
fn sending_binary(
    environment: &TestEnvironment,
    sink: &SmtpSink,
    smtp_concurrency: u32,
    lease_seconds: u32,
) -> ServiceBinary {
    environment
        .binary(env!("CARGO_BIN_EXE_candor-notification"))
        .env("SMTP_URL", sink.url())
        .env("ORGANISATION_NAME", "Candor Books")
        .env("SEND_RATE_PER_SECOND", "0")
        .env("SMTP_CONCURRENCY", smtp_concurrency.to_string())
        .env("THREAD_LINK_WAIT_SECONDS", "0")
        .env("SEND_RETRY_INITIAL_MS", "100")
        .env("SENDER_LEASE_SECONDS", lease_seconds.to_string())
}

#[tokio::test]
async fn a_killed_sender_resends_at_most_what_it_reports_as_possibly_resent() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    // Each acceptance is held, so jobs sit in `sending` (some already
    // recorded by the sink, unacknowledged) when the process dies.
    sink.set_accept_delay(Duration::from_millis(500));
    let binary = sending_binary(&environment, &sink, 4, 3);
    let (first, port) = spawn(&binary);
    grpc_client(port).await;
    environment.broker.declare_all().await.unwrap();

    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(MEMBERS);
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected)).await;

    let pool = environment.database.pool();
    eventually(LONG, "some accepted, some in flight", || async {
        let in_flight = count_jobs(pool, &id, "sending").await;
        (sink.messages().len() > 4 && in_flight > 0).then_some(())
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(first);
    let left_sending = count_jobs(pool, &id, "sending").await;
    assert!(left_sending > 0, "the kill caught jobs in flight");

    sink.set_accept_delay(Duration::ZERO);
    let (second, port) = spawn(&binary);
    let client = grpc_client(port).await;
    let progress = progress_when(
        &client,
        &id,
        LONG,
        "every notice sent after the restart",
        |progress| progress.sent == MEMBERS as u64,
    )
    .await;

    let mut received: HashMap<String, usize> = HashMap::new();
    for message in sink.messages() {
        *received.entry(message.to[0].to_lowercase()).or_default() += 1;
    }
    for account in &affected {
        assert!(
            received.contains_key(&account.email.to_lowercase()),
            "{} got the notice",
            account.email
        );
    }
    assert_eq!(received.len(), MEMBERS, "nobody else was mailed");
    let duplicates: usize = received.values().map(|count| count - 1).sum();
    assert!(
        progress.possibly_resent > 0,
        "jobs caught sending are reported as possibly re-sent"
    );
    assert!(
        duplicates as u64 <= progress.possibly_resent,
        "{duplicates} duplicates at the sink, {} reported possibly re-sent",
        progress.possibly_resent
    );
    second.terminate(Duration::from_secs(30)).unwrap();
}

/// The leases in the database.
async fn leases(pool: &sqlx::PgPool) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT lease_id FROM sender_leases ORDER BY started_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_killed_replica_s_notices_are_sent_by_the_other_within_seconds() {
    const REPLICA_MEMBERS: usize = 120;
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    // Two acceptances a second per connection while replica A sends: it
    // claims every notice at once (its window is larger than the
    // incident), so they sit in `sending` under its lease. Three
    // connections each.
    sink.set_accept_delay(Duration::from_millis(500));
    let binary = sending_binary(&environment, &sink, 3, 4);
    let (replica_a, port) = spawn(&binary);
    grpc_client(port).await;
    environment.broker.declare_all().await.unwrap();

    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(REPLICA_MEMBERS);
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected)).await;
    let pool = environment.database.pool();
    let lease_a = eventually(LONG, "replica A sending under its lease", || async {
        let leases = leases(pool).await;
        let sent = count_jobs(pool, &id, "sent").await;
        let sending = count_jobs(pool, &id, "sending").await;
        (leases.len() == 1 && sent >= 8 && sending > 0).then(|| leases[0])
    })
    .await;

    let (replica_b, port) = spawn(&binary);
    let client = grpc_client(port).await;
    let lease_b = eventually(LONG, "replica B's lease", || async {
        leases(pool)
            .await
            .into_iter()
            .find(|lease| *lease != lease_a)
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &replica_a.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let killed_at = Instant::now();
    drop(replica_a);
    sink.set_accept_delay(Duration::ZERO);
    let held_by_a: Vec<Uuid> = sqlx::query_scalar(
        "SELECT job_id FROM email_jobs WHERE incident_id = $1 AND state = 'sending' AND claimed_by = $2",
    )
    .bind(&id)
    .bind(lease_a)
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(!held_by_a.is_empty(), "the kill caught notices in flight");

    let deadline = Duration::from_secs(15).saturating_sub(killed_at.elapsed());
    let progress = progress_when(
        &client,
        &id,
        deadline,
        "every notice sent within 15 s of the kill",
        |progress| progress.sent == REPLICA_MEMBERS as u64,
    )
    .await;
    eprintln!(
        "every notice sent {:.1} s after the kill; replica A held {} of them",
        killed_at.elapsed().as_secs_f64(),
        held_by_a.len()
    );

    // What A held went back to the queue and out through B, counted as
    // possibly re-sent.
    let taken_over: Vec<(String, Option<Uuid>, bool)> = sqlx::query_as(
        "SELECT state, claimed_by, possibly_resent FROM email_jobs WHERE job_id = ANY($1)",
    )
    .bind(&held_by_a)
    .fetch_all(pool)
    .await
    .unwrap();
    for (state, claimed_by, possibly_resent) in &taken_over {
        assert_eq!(state, "sent");
        assert_eq!(*claimed_by, Some(lease_b), "sent by replica B");
        assert!(possibly_resent);
    }
    assert_eq!(progress.possibly_resent, held_by_a.len() as u64);

    // One notice per member, but for those counted possibly re-sent (the
    // sink had taken a few of A's unacknowledged).
    let possibly_resent: Vec<String> = sqlx::query_scalar(
        "SELECT lower(to_address) FROM email_jobs WHERE incident_id = $1 AND possibly_resent",
    )
    .bind(&id)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut received: HashMap<String, usize> = HashMap::new();
    for message in sink.messages() {
        *received.entry(message.to[0].to_lowercase()).or_default() += 1;
    }
    assert_eq!(received.len(), REPLICA_MEMBERS, "every member, nobody else");
    for (address, count) in &received {
        if possibly_resent.contains(address) {
            assert!(*count <= 2, "{address} got {count} notices");
        } else {
            assert_eq!(*count, 1, "{address} got {count} notices");
        }
    }

    // B's shutdown ends its lease; A's was reaped.
    let exited = replica_b.terminate(Duration::from_secs(30)).unwrap();
    assert!(exited.status.success(), "{}", exited.stderr);
    assert!(leases(pool).await.is_empty(), "no lease left behind");
}
