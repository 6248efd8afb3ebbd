//! A running account service per test, typed helpers, and a notification
//! service double that records SendEmail calls.

use candor_platform::service::ServiceApp as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_account::{App, Config};
use candor_platform::auth::Caller;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::account::v1::*;
use candor_proto::notification::v1 as notification;
use candor_proto::notification::v1::notification_service_server::{
    NotificationService, NotificationServiceServer,
};
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment, caller_token};
use candor_testkit::service::RunningService;
use tonic::transport::Channel;
use tonic::{Request, Status};

pub const LEGACY_HASH_KEY: &str = "test-legacy-hash-key-0123456789abcdef";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";
pub const OTHER_PASSWORD: &str = "tranquil otter lighthouse";

pub struct TestApp {
    pub environment: TestEnvironment,
    /// Held so the service runs as long as the test.
    _service: RunningService,
    pub client: AccountServiceClient<Channel>,
    pub notifications: NotificationDouble,
    /// Where the service serves its metrics.
    pub metrics_addr: std::net::SocketAddr,
}

pub fn config(environment: &TestEnvironment, notification_url: &str) -> Config {
    Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
        public_base_url: "http://localhost:8080".to_owned(),
        notification_grpc_url: notification_url.to_owned(),
        legacy_hash_key: LEGACY_HASH_KEY.into(),
        session_ttl_seconds: 3600,
        password_hashing_concurrency: 0,
        login_failures_per_account: 3,
        login_failures_per_address: 6,
        requests_per_address_per_hour: 20,
        argon2_max_memory_kib: 47_104,
        argon2_max_iterations: 5,
        argon2_max_parallelism: 1,
        pwned_passwords_url: None,
        pwned_passwords_timeout_ms: 2000,
        parking: candor_platform::parking::ParkingConfig::default(),
        common: environment.common_config(candor_platform::auth::Caller::Account),
    }
}

impl TestApp {
    /// A new channel to the running service.
    pub async fn channel(&self) -> Channel {
        self._service.channel().await.unwrap()
    }

    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        candor_testkit::tracing::init();
        let environment = TestEnvironment::new().await.unwrap();
        let notifications = NotificationDouble::start().await;
        let mut config = config(&environment, &notifications.url);
        adjust(&mut config);
        Self::start(environment, notifications, config).await
    }

    pub async fn start(
        environment: TestEnvironment,
        notifications: NotificationDouble,
        config: Config,
    ) -> Self {
        let app = App::build(config).await.unwrap();
        let metrics_addr = app.metrics_addr().expect("the tests serve metrics");
        let service = RunningService::serving(
            candor_account::BINARY_NAME,
            app.grpc_addr().unwrap(),
            |shutdown| app.run_until(shutdown),
        )
        .await
        .unwrap();
        let client = AccountServiceClient::new(service.channel().await.unwrap());
        Self {
            environment,
            _service: service,
            client,
            notifications,
            metrics_addr,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.environment.database.pool()
    }

    pub async fn register(&self, email: &str, name: &str) -> Account {
        self.client
            .clone()
            .register(RegisterRequest {
                email: email.to_owned(),
                display_name: name.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<LoginResponse, Status> {
        self.client
            .clone()
            .login(LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn session(&self, email: &str, password: &str) -> Session {
        match self.login(email, password).await.unwrap().result.unwrap() {
            login_response::Result::Session(session) => session,
            other => panic!("expected a session, got {other:?}"),
        }
    }

    pub async fn validate(&self, token: &str) -> Result<ValidateSessionResponse, Status> {
        self.client
            .clone()
            .validate_session(with_token(
                caller_token(Caller::Forum),
                ValidateSessionRequest {
                    session_token: token.to_owned(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn account(&self, account_id: &str) -> Account {
        self.client
            .clone()
            .get_account(with_token(
                OPERATOR_TOKEN,
                GetAccountRequest {
                    account_id: account_id.to_owned(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
    }

    /// Sets an account's join date directly (registration uses now()).
    /// The first page of an incident's affected accounts, as the operator.
    pub async fn affected_accounts(&self, incident_id: &str) -> ListAffectedAccountsResponse {
        self.client
            .clone()
            .list_affected_accounts(with_token(
                OPERATOR_TOKEN,
                ListAffectedAccountsRequest {
                    incident_id: incident_id.to_owned(),
                    page_size: 0,
                    page_token: String::new(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn set_joined_at(&self, account_id: &str, joined_at: &str) {
        sqlx::query("UPDATE accounts SET joined_at = $2::timestamptz WHERE account_id = $1::uuid")
            .bind(account_id)
            .bind(joined_at)
            .execute(self.pool())
            .await
            .unwrap();
    }
}

pub fn with_token<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub use candor_testkit::poll::eventually;

/// One recorded SendEmail: the authorization metadata and the request.
pub type EmailCall = (Option<String>, notification::SendEmailRequest);

/// Records every SendEmail call; answers the rest UNIMPLEMENTED.
#[derive(Clone)]
pub struct NotificationDouble {
    pub url: String,
    calls: Arc<Mutex<Vec<EmailCall>>>,
}

impl NotificationDouble {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let double = Self {
            url,
            calls: Arc::default(),
        };
        let server = NotificationServiceServer::new(double.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(server)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        double
    }

    /// The calls so far: (authorization metadata, request).
    pub fn calls(&self) -> Vec<EmailCall> {
        self.calls.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, count: usize) -> Vec<EmailCall> {
        let double = self.clone();
        eventually(Duration::from_secs(30), "SendEmail calls", move || {
            let calls = double.calls();
            async move { (calls.len() >= count).then_some(calls) }
        })
        .await
    }
}

/// The token in a link (`...?token=<token>`).
pub fn token_of(url: &str) -> String {
    url.split("token=").nth(1).unwrap().to_owned()
}

#[tonic::async_trait]
impl NotificationService for NotificationDouble {
    async fn send_email(
        &self,
        request: Request<notification::SendEmailRequest>,
    ) -> Result<tonic::Response<notification::SendEmailResponse>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        self.calls
            .lock()
            .unwrap()
            .push((authorization, request.into_inner()));
        Ok(tonic::Response::new(
            notification::SendEmailResponse::default(),
        ))
    }

    async fn get_delivery(
        &self,
        _: Request<notification::GetDeliveryRequest>,
    ) -> Result<tonic::Response<notification::GetDeliveryResponse>, Status> {
        Err(Status::unimplemented("double"))
    }

    async fn list_deliveries(
        &self,
        _: Request<notification::ListDeliveriesRequest>,
    ) -> Result<tonic::Response<notification::ListDeliveriesResponse>, Status> {
        Err(Status::unimplemented("double"))
    }

    async fn get_incident_progress(
        &self,
        _: Request<notification::GetIncidentProgressRequest>,
    ) -> Result<tonic::Response<notification::GetIncidentProgressResponse>, Status> {
        Err(Status::unimplemented("double"))
    }

    async fn render_breach_notice(
        &self,
        _: Request<notification::RenderBreachNoticeRequest>,
    ) -> Result<tonic::Response<notification::RenderBreachNoticeResponse>, Status> {
        Err(Status::unimplemented("double"))
    }

    async fn retry_failed_notices(
        &self,
        _: Request<notification::RetryFailedNoticesRequest>,
    ) -> Result<tonic::Response<notification::RetryFailedNoticesResponse>, Status> {
        Err(Status::unimplemented("double"))
    }

    async fn send_test_notice(
        &self,
        _: Request<notification::SendTestNoticeRequest>,
    ) -> Result<tonic::Response<notification::SendTestNoticeResponse>, Status> {
        Err(Status::unimplemented("double"))
    }

    async fn record_delivery_report(
        &self,
        _: Request<notification::RecordDeliveryReportRequest>,
    ) -> Result<tonic::Response<notification::RecordDeliveryReportResponse>, Status> {
        Err(Status::unimplemented("double"))
    }
}
