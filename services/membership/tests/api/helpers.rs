//! A membership service per test, typed publishers for its events and
//! typed RPC calls.

use candor_platform::service::ServiceApp as _;
use std::future::Future;
use std::time::Duration;

use candor_membership::{App, Config};
use candor_platform::messaging::CONTENT_TYPE_PROTOBUF;
use candor_proto::events::v1::{
    AccountDeactivated, AccountsAffected, AffectedAccount, BreachReported, Compensation,
    CompensationKind, EnumerationCompleted, Event,
};
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::membership::v1::{
    Credit, CreditKind, GetIncidentProgressRequest, GetIncidentProgressResponse,
    GetMembershipRequest, GrantCreditRequest, GrantCreditResponse, ListCreditsRequest, Membership,
    Money,
};
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use candor_testkit::service::RunningService;
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct TestApp {
    pub environment: TestEnvironment,
    pub service: Option<RunningService>,
    pub client: Option<MembershipServiceClient<Channel>>,
    /// Where the running service serves its metrics.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl TestApp {
    /// A fresh environment with the service running.
    pub async fn spawn() -> Self {
        let mut app = Self::without_service().await;
        app.start().await;
        app
    }

    /// A fresh environment with the topology declared but no service yet.
    pub async fn without_service() -> Self {
        let environment = TestEnvironment::new().await.unwrap();
        environment.broker.declare_all().await.unwrap();
        Self {
            environment,
            service: None,
            client: None,
            metrics_addr: None,
        }
    }

    pub fn config(&self) -> Config {
        Config {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
            account_grpc_url: "http://127.0.0.1:9".to_owned(),
            consumer_concurrency: 4,
            parking: candor_platform::parking::ParkingConfig::default(),
            common: self
                .environment
                .common_config(candor_platform::auth::Caller::Membership),
        }
    }

    /// Starts (or restarts) the service in-process.
    pub async fn start(&mut self) {
        let app = App::build(self.config()).await.unwrap();
        self.metrics_addr = app.metrics_addr();
        let service = RunningService::spawn(
            candor_membership::BINARY_NAME,
            app.grpc_addr().unwrap(),
            |shutdown| app.run_until(shutdown),
        );
        service.wait_until_serving(PATIENCE).await.unwrap();
        self.client = Some(MembershipServiceClient::new(
            service.channel().await.unwrap(),
        ));
        self.service = Some(service);
    }

    pub async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await.unwrap();
        }
        self.client = None;
        self.metrics_addr = None;
    }

    pub fn pool(&self) -> &PgPool {
        self.environment.database.pool()
    }

    pub fn client(&self) -> MembershipServiceClient<Channel> {
        self.client.clone().expect("the service is running")
    }

    pub async fn publish<E: Event>(&self, event: &E) {
        self.environment
            .broker
            .publish_raw(
                E::ROUTING_KEY,
                Some(CONTENT_TYPE_PROTOBUF),
                &event.encode_to_vec(),
            )
            .await
            .unwrap();
    }

    pub async fn publish_breach(&self, incident_id: &str, compensation: Compensation) {
        self.publish(&breach(incident_id, compensation)).await;
    }

    pub async fn publish_batch(&self, incident_id: &str, batch_sequence: u32, accounts: &[Uuid]) {
        self.publish(&batch(incident_id, batch_sequence, accounts))
            .await;
    }

    pub async fn publish_enumeration(&self, incident_id: &str, accounts: u64, batches: u32) {
        self.publish(&EnumerationCompleted {
            incident_id: incident_id.to_owned(),
            affected_accounts: accounts,
            batch_count: batches,
            completed_at: Some(now()),
            ..EnumerationCompleted::default()
        })
        .await;
    }

    pub async fn publish_deactivated(&self, account_id: Uuid) {
        self.publish(&AccountDeactivated {
            account_id: account_id.to_string(),
            deactivated_at: Some(now()),
        })
        .await;
    }

    pub async fn membership(&self, account_id: Uuid) -> Membership {
        self.client()
            .get_membership(operator(GetMembershipRequest {
                account_id: account_id.to_string(),
            }))
            .await
            .unwrap()
            .into_inner()
            .membership
            .unwrap()
    }

    /// GetIncidentProgress as the operator; NOT_FOUND until the incident
    /// is recorded.
    pub async fn progress(
        &self,
        incident_id: &str,
    ) -> Result<GetIncidentProgressResponse, tonic::Status> {
        self.client()
            .get_incident_progress(operator(GetIncidentProgressRequest {
                incident_id: incident_id.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Waits until the incident is recorded and its progress says complete.
    pub async fn wait_until_complete(&self, incident_id: &str) -> GetIncidentProgressResponse {
        eventually("the incident is complete", || async {
            self.progress(incident_id)
                .await
                .ok()
                .filter(|progress| progress.complete)
        })
        .await
    }

    pub async fn grant(
        &self,
        request: GrantCreditRequest,
    ) -> Result<GrantCreditResponse, tonic::Status> {
        self.client()
            .grant_credit(operator(request))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Every ledger entry of an account, newest first (all pages).
    pub async fn credits_of(&self, account_id: Uuid) -> Vec<Credit> {
        let mut credits = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client()
                .list_credits(operator(ListCreditsRequest {
                    account_id: account_id.to_string(),
                    page_token,
                    ..ListCreditsRequest::default()
                }))
                .await
                .unwrap()
                .into_inner();
            credits.extend(page.credits);
            if page.next_page_token.is_empty() {
                return credits;
            }
            page_token = page.next_page_token;
        }
    }

    /// Ledger rows written for an incident, counted in the database.
    pub async fn compensation_entries(&self, incident_id: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM credits WHERE incident_id = $1 AND compensation")
            .bind(incident_id)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }
}

/// A request with the operator's credential.
pub fn operator<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {OPERATOR_TOKEN}").parse().unwrap(),
    );
    request
}

/// Polls `check` until it yields a value; fails after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    candor_testkit::poll::eventually(PATIENCE, what, check).await
}

pub fn now() -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    prost_types::Timestamp {
        seconds: i64::try_from(now.as_secs()).unwrap(),
        nanos: 0,
    }
}

/// The README's example breach with another id and compensation.
pub fn breach(incident_id: &str, compensation: Compensation) -> BreachReported {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/candor-proto/tests/data/breach_reported.json"
    );
    let mut event: BreachReported =
        candor_proto::decode_json(&std::fs::read(path).unwrap()).unwrap();
    event.incident_id = incident_id.to_owned();
    event.compensation = Some(compensation);
    event
}

pub fn lifetime_compensation() -> Compensation {
    Compensation {
        kind: CompensationKind::LifetimeMembership as i32,
        value_minor_units: 2500,
        currency: "USD".to_owned(),
        duration_days: 0,
        description: "a free upgrade to a lifetime membership (worth $25)".to_owned(),
    }
}

pub fn batch(incident_id: &str, batch_sequence: u32, accounts: &[Uuid]) -> AccountsAffected {
    let mut sorted = accounts.to_vec();
    sorted.sort();
    AccountsAffected {
        incident_id: incident_id.to_owned(),
        batch_sequence,
        accounts: sorted
            .iter()
            .map(|id| AffectedAccount {
                account_id: id.to_string(),
                email: format!("member-{}@example.org", id.simple()),
                display_name: "A member".to_owned(),
                joined_at: Some(prost_types::Timestamp {
                    seconds: 1_200_000_000,
                    nanos: 0,
                }),
                ..AffectedAccount::default()
            })
            .collect(),
    }
}

pub fn accounts(count: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    ids.sort();
    ids
}

pub fn incident_id() -> String {
    format!("test-{}", Uuid::new_v4().simple())
}

pub fn grant_request(key: &str, account_id: Uuid, kind: CreditKind) -> GrantCreditRequest {
    GrantCreditRequest {
        idempotency_key: key.to_owned(),
        account_id: account_id.to_string(),
        kind: kind as i32,
        value: match kind {
            CreditKind::AccountCredit => Some(Money {
                value_minor_units: 700,
                currency: "EUR".to_owned(),
            }),
            _ => None,
        },
        duration_days: if kind == CreditKind::PaidMembership {
            30
        } else {
            0
        },
        reason: "goodwill".to_owned(),
        ..GrantCreditRequest::default()
    }
}
