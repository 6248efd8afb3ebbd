//! Typed helpers: a configured app against the test's database, broker and
//! SMTP sink; events published the way other services publish them.

use candor_platform::service::ServiceApp as _;
use std::time::Duration;

use candor_notification::{App, Config};
use candor_platform::auth::Caller;
use candor_proto::events::v1::{
    ACCOUNT_DATA_CLASSES, AccountDeactivated, AccountsAffected, AffectedAccount, BreachReported,
    EnumerationCompleted, Event, IncidentThreadOpened,
};
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_proto::notification::v1::{GetIncidentProgressRequest, GetIncidentProgressResponse};
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment, caller_token};
use candor_testkit::service::RunningService;
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

pub const INCIDENT_JSON: &str =
    include_str!("../../../../crates/candor-proto/tests/data/breach_reported.json");

/// A service configuration for tests: fast retries, no rate limit unless set.
pub fn config(environment: &TestEnvironment, smtp_url: &str) -> Config {
    Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
        smtp_url: smtp_url.into(),
        public_base_url: "https://books.example".to_owned(),
        account_grpc_url: "http://127.0.0.1:50051".to_owned(),
        forum_grpc_url: "http://127.0.0.1:50054".to_owned(),
        email_from: "Candor Books <notices@books.example>".to_owned(),
        organisation_name: "Candor Books".to_owned(),
        organisation_contact: None,
        organisation_logo_url: None,
        thread_link_wait_seconds: 600,
        send_rate_per_second: 0.0,
        smtp_concurrency: 4,
        smtp_timeout_seconds: 5,
        smtp_ca_file: None,
        smtp_probe_interval_seconds: 30,
        send_max_attempts: 100,
        send_retry_initial_ms: 200,
        send_retry_max_ms: 1_000,
        sending_stale_seconds: 300,
        sender_lease_seconds: 10,
        soft_bounce_max_retries: 3,
        delivery_reports: candor_notification::intake::DeliveryReportsConfig::default(),
        parking: candor_platform::parking::ParkingConfig::default(),
        common: environment.common_config(candor_platform::auth::Caller::Notification),
    }
}

/// Builds and runs the app; returns it running and serving.
pub async fn start(config: Config) -> RunningService {
    start_with_metrics(config).await.0
}

/// Builds and runs the app; returns it running and serving, and where it
/// serves its metrics.
pub async fn start_with_metrics(config: Config) -> (RunningService, std::net::SocketAddr) {
    let app = App::build(config).await.unwrap();
    let metrics_addr = app.metrics_addr().expect("the tests serve metrics");
    let service = RunningService::serving(
        candor_notification::BINARY_NAME,
        app.grpc_addr().unwrap(),
        |shutdown| app.run_until(shutdown),
    )
    .await
    .unwrap();
    (service, metrics_addr)
}

pub async fn client(service: &RunningService) -> NotificationServiceClient<Channel> {
    NotificationServiceClient::new(service.channel().await.unwrap())
}

/// A request carrying `token` as its bearer credential.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub fn as_operator<T>(message: T) -> tonic::Request<T> {
    authorized(message, OPERATOR_TOKEN)
}

/// A request from the account service (the one caller of SendEmail).
pub fn as_account<T>(message: T) -> tonic::Request<T> {
    authorized(message, caller_token(Caller::Account))
}

pub async fn publish<E: Event>(environment: &TestEnvironment, event: &E) {
    environment
        .broker
        .publish_raw(
            E::ROUTING_KEY,
            Some("application/x-protobuf"),
            &event.encode_to_vec(),
        )
        .await
        .unwrap();
}

/// The README's incident under a fresh id.
pub fn incident() -> BreachReported {
    let mut incident: BreachReported = candor_proto::decode_json(INCIDENT_JSON.as_bytes()).unwrap();
    incident.incident_id = format!("test-{}", Uuid::new_v4().simple());
    incident
}

/// `count` affected accounts with distinct addresses, each of whom had a
/// password.
pub fn accounts(count: usize) -> Vec<AffectedAccount> {
    (0..count)
        .map(|index| {
            let account_id = Uuid::now_v7();
            AffectedAccount {
                account_id: account_id.to_string(),
                email: format!("member-{index}-{}@example.org", account_id.simple()),
                display_name: format!("Member {index}"),
                joined_at: Some(prost_types::Timestamp {
                    seconds: 1_200_000_000,
                    nanos: 0,
                }),
                // What the account service says of a member who had a password.
                held_data_classes: ACCOUNT_DATA_CLASSES
                    .iter()
                    .map(|class| *class as i32)
                    .collect(),
            }
        })
        .collect()
}

pub fn batch(incident_id: &str, sequence: u32, accounts: &[AffectedAccount]) -> AccountsAffected {
    AccountsAffected {
        incident_id: incident_id.to_owned(),
        batch_sequence: sequence,
        accounts: accounts.to_vec(),
    }
}

pub fn thread_opened(incident_id: &str) -> IncidentThreadOpened {
    let thread_id = Uuid::now_v7();
    IncidentThreadOpened {
        incident_id: incident_id.to_owned(),
        thread_id: thread_id.to_string(),
        url: format!("https://books.example/forum/threads/{thread_id}"),
        opened_at: Some(now()),
    }
}

pub fn enumeration_completed(incident_id: &str, total: u64, batches: u32) -> EnumerationCompleted {
    EnumerationCompleted {
        incident_id: incident_id.to_owned(),
        affected_accounts: total,
        batch_count: batches,
        completed_at: Some(now()),
        ..Default::default()
    }
}

pub fn deactivated(account_id: &str) -> AccountDeactivated {
    AccountDeactivated {
        account_id: account_id.to_owned(),
        deactivated_at: Some(now()),
    }
}

pub fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

pub use candor_testkit::poll::eventually;

/// Jobs of an incident by state, straight from the database.
/// Waits until the service has recorded `account_id`'s deactivation (the
/// consumer handles several messages at once, so a batch published after a
/// deactivation may otherwise be handled first).
pub async fn deactivation_recorded(pool: &PgPool, account_id: &str) {
    let account_id = uuid::Uuid::parse_str(account_id).unwrap();
    eventually(
        Duration::from_secs(60),
        "the deactivation recorded",
        || async {
            let recorded: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM deactivated_accounts WHERE account_id = $1",
            )
            .bind(account_id)
            .fetch_one(pool)
            .await
            .unwrap();
            (recorded == 1).then_some(())
        },
    )
    .await;
}

pub async fn count_jobs(pool: &PgPool, incident_id: &str, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM email_jobs WHERE incident_id = $1 AND state = $2")
        .bind(incident_id)
        .bind(state)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits (up to a minute) until exactly `count` jobs of the incident are in
/// `state`.
pub async fn jobs_reach(pool: &PgPool, incident_id: &str, state: &str, count: i64) {
    let what = format!("{count} jobs {state}");
    eventually(Duration::from_secs(60), &what, || async {
        (count_jobs(pool, incident_id, state).await == count).then_some(())
    })
    .await;
}

/// Polls GetIncidentProgress (as the operator) until `done` holds; failed
/// calls (a service still starting) count as not done.
pub async fn progress_when(
    client: &NotificationServiceClient<Channel>,
    incident_id: &str,
    timeout: Duration,
    what: &str,
    done: impl Fn(&GetIncidentProgressResponse) -> bool,
) -> GetIncidentProgressResponse {
    eventually(timeout, what, || {
        let mut client = client.clone();
        let request = GetIncidentProgressRequest {
            incident_id: incident_id.to_owned(),
        };
        let done = &done;
        async move {
            let progress = client
                .get_incident_progress(as_operator(request))
                .await
                .ok()?
                .into_inner();
            done(&progress).then_some(progress)
        }
    })
    .await
}
