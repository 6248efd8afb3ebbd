//! The caller's deadline cut through account → notification: the email's
//! first attempt runs inside RequestDeactivation under what is left of
//! the caller's deadline, and the RPC answers in time whatever the
//! notification service does. RequestPasswordReset, which must answer alike
//! for known and unknown addresses, never waits for notification.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_proto::account::v1::{RequestDeactivationRequest, RequestPasswordResetRequest};
use candor_proto::notification::v1 as notification;
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use candor_testkit::service::RunningService;
use candor_testkit::smtp::SmtpSink;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Request;

use crate::helpers::{PASSWORD, TestApp, with_token};

/// The caller's deadline: short, yet long enough for the RPC's own
/// database work on a busy test machine.
const CALLER_DEADLINE: Duration = Duration::from_millis(500);

/// Asks for a deactivation email for `email`'s account with the caller's
/// short deadline; the answer and how long it took.
async fn request_deactivation_within(
    app: &TestApp,
    email: &str,
) -> (Result<(), tonic::Status>, Duration) {
    let session = app.session(email, PASSWORD).await;
    let mut request = with_token(&session.session_token, RequestDeactivationRequest {});
    request.set_timeout(CALLER_DEADLINE);
    let started = Instant::now();
    let answer = app.client.clone().request_deactivation(request).await;
    (answer.map(|_| ()), started.elapsed())
}

async fn request_reset_within(
    app: &TestApp,
    email: &str,
    deadline: Duration,
) -> (Result<(), tonic::Status>, Duration) {
    let mut request = Request::new(RequestPasswordResetRequest {
        email: email.to_owned(),
    });
    request.set_timeout(deadline);
    let started = Instant::now();
    let answer = app.client.clone().request_password_reset(request).await;
    (answer.map(|_| ()), started.elapsed())
}

#[tokio::test]
async fn a_stalled_notification_service_gets_what_is_left_of_the_callers_deadline() {
    let stalled = StalledNotification::start().await;
    let url = stalled.url.clone();
    let app = TestApp::spawn_with(|config| config.notification_grpc_url = url).await;
    app.register("stalled@example.org", "Stalled").await;

    let (answer, took) = request_deactivation_within(&app, "stalled@example.org").await;

    answer.unwrap();
    assert!(took < CALLER_DEADLINE, "answered after {took:?}");
    let timeouts = stalled.timeouts();
    let Some(Some(sent)) = timeouts.first() else {
        panic!("the first attempt did not reach notification with a deadline: {timeouts:?}");
    };
    assert!(
        *sent > Duration::ZERO && *sent <= CALLER_DEADLINE,
        "notification was given {sent:?}"
    );
}

#[tokio::test]
async fn with_the_real_notification_service_the_email_is_queued_before_the_answer() {
    let smtp = SmtpSink::start().unwrap();
    let notification_environment = TestEnvironment::new().await.unwrap();
    let notification_service = start_notification(&notification_environment, &smtp.url()).await;
    let notification_url = format!("http://{}", notification_service.addr());
    let app = TestApp::spawn_with(|config| config.notification_grpc_url = notification_url).await;
    let account = app.register("queued@example.org", "Queued").await;

    let (answer, took) = request_deactivation_within(&app, "queued@example.org").await;

    answer.unwrap();
    assert!(took < CALLER_DEADLINE, "answered after {took:?}");
    let deliveries = NotificationServiceClient::new(notification_service.channel().await.unwrap())
        .list_deliveries(with_token(
            OPERATOR_TOKEN,
            notification::ListDeliveriesRequest {
                account_id: account.account_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
}

#[tokio::test]
async fn a_password_reset_never_waits_for_notification() {
    // A stalled notification service would hold a known address's answer
    // for the first attempt's whole budget (2 s with this deadline); the
    // reset answers without it, as for an unknown address, and the email is
    // still attempted.
    let deadline = Duration::from_secs(5);
    let stalled = StalledNotification::start().await;
    let url = stalled.url.clone();
    let app = TestApp::spawn_with(|config| config.notification_grpc_url = url).await;
    app.register("known@example.org", "Known").await;

    let (answer, known_took) = request_reset_within(&app, "known@example.org", deadline).await;
    answer.unwrap();
    let (answer, unknown_took) = request_reset_within(&app, "unknown@example.org", deadline).await;
    answer.unwrap();

    let budget = Duration::from_secs(2);
    assert!(
        known_took < budget / 2,
        "a known address answered after {known_took:?}"
    );
    assert!(
        unknown_took < budget / 2,
        "an unknown address answered after {unknown_took:?}"
    );
    let give_up = Instant::now() + Duration::from_secs(10);
    while stalled.timeouts().is_empty() && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stalled.timeouts().len(), 1, "the email was not attempted");
}

async fn start_notification(environment: &TestEnvironment, smtp_url: &str) -> RunningService {
    let config = candor_notification::Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
        smtp_url: smtp_url.into(),
        public_base_url: "http://localhost:8080".to_owned(),
        account_grpc_url: "http://127.0.0.1:50051".to_owned(),
        forum_grpc_url: "http://127.0.0.1:50054".to_owned(),
        email_from: "Candor <notices@candor.example>".to_owned(),
        organisation_name: "Candor".to_owned(),
        organisation_contact: None,
        organisation_logo_url: None,
        thread_link_wait_seconds: 600,
        send_rate_per_second: 0.0,
        smtp_concurrency: 1,
        smtp_timeout_seconds: 5,
        smtp_ca_file: None,
        smtp_probe_interval_seconds: 30,
        send_max_attempts: 3,
        send_retry_initial_ms: 200,
        send_retry_max_ms: 1_000,
        sending_stale_seconds: 300,
        sender_lease_seconds: 10,
        soft_bounce_max_retries: 3,
        delivery_reports: candor_notification::intake::DeliveryReportsConfig::default(),
        parking: candor_platform::parking::ParkingConfig::default(),
        common: environment.common_config(candor_platform::auth::Caller::Notification),
    };
    let app = candor_notification::App::build(config).await.unwrap();
    use candor_platform::service::ServiceApp as _;
    RunningService::serving(
        candor_notification::BINARY_NAME,
        app.grpc_addr().unwrap(),
        |shutdown| app.run_until(shutdown),
    )
    .await
    .unwrap()
}

/// A notification service that records the `grpc-timeout` of each
/// SendEmail and never answers it.
#[derive(Clone)]
struct StalledNotification {
    url: String,
    timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
}

impl StalledNotification {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stalled = Self {
            url: format!("http://{}", listener.local_addr().unwrap()),
            timeouts: Arc::default(),
        };
        let service = tonic::service::Routes::new(
            notification::notification_service_server::NotificationServiceServer::new(
                stalled.clone(),
            ),
        );
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_routes(service)
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        stalled
    }

    fn timeouts(&self) -> Vec<Option<Duration>> {
        self.timeouts.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl notification::notification_service_server::NotificationService for StalledNotification {
    async fn send_email(
        &self,
        request: Request<notification::SendEmailRequest>,
    ) -> Result<tonic::Response<notification::SendEmailResponse>, tonic::Status> {
        let timeout = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(candor_client::grpc_timeout::parse);
        self.timeouts.lock().unwrap().push(timeout);
        std::future::pending().await
    }

    async fn get_delivery(
        &self,
        _: Request<notification::GetDeliveryRequest>,
    ) -> Result<tonic::Response<notification::GetDeliveryResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }

    async fn list_deliveries(
        &self,
        _: Request<notification::ListDeliveriesRequest>,
    ) -> Result<tonic::Response<notification::ListDeliveriesResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }

    async fn get_incident_progress(
        &self,
        _: Request<notification::GetIncidentProgressRequest>,
    ) -> Result<tonic::Response<notification::GetIncidentProgressResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }

    async fn render_breach_notice(
        &self,
        _: Request<notification::RenderBreachNoticeRequest>,
    ) -> Result<tonic::Response<notification::RenderBreachNoticeResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }

    async fn retry_failed_notices(
        &self,
        _: Request<notification::RetryFailedNoticesRequest>,
    ) -> Result<tonic::Response<notification::RetryFailedNoticesResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }

    async fn send_test_notice(
        &self,
        _: Request<notification::SendTestNoticeRequest>,
    ) -> Result<tonic::Response<notification::SendTestNoticeResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }

    async fn record_delivery_report(
        &self,
        _: Request<notification::RecordDeliveryReportRequest>,
    ) -> Result<tonic::Response<notification::RecordDeliveryReportResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("stalled double"))
    }
}
