//! The real binary killed with SIGKILL while emails are in flight: after a
//! restart every member has the notice, and the re-sends are no more than
//! the progress report's `possibly_resent`.

use std::collections::HashMap;
use std::time::Duration;

use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_testkit::binary::{RunningBinary, ServiceBinary, free_port};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;

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

#[tokio::test]
async fn a_killed_sender_resends_at_most_what_it_reports_as_possibly_resent() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    // Each acceptance is held, so jobs sit in `sending` (some already
    // recorded by the sink, unacknowledged) when the process dies.
    sink.set_accept_delay(Duration::from_millis(500));
    let binary = environment
        .binary(env!("CARGO_BIN_EXE_candor-notification"))
        .env("SMTP_URL", sink.url())
        .env("ORGANISATION_NAME", "Candor Books")
        .env("SEND_RATE_PER_SECOND", "0")
        .env("SMTP_CONCURRENCY", "4")
        .env("THREAD_LINK_WAIT_SECONDS", "0")
        .env("SEND_RETRY_INITIAL_MS", "100")
        .env("SENDING_STALE_SECONDS", "3");
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
