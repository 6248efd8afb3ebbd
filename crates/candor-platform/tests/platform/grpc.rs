//! The gRPC server: health and its shutdown transition, draining of
//! in-flight calls, the permission layer, and trace context across a call.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_platform::auth::forwarded::ProxyTrust;
use candor_platform::auth::{
    CallerTokens, ClientAddress, Credentials, Identity, OutgoingInterceptor, admitted,
};
use candor_platform::config::AuthConfig;
use candor_platform::grpc::{GrpcServer, Guard, Limits, bind};
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::membership::v1::membership_service_server::{
    MembershipService, MembershipServiceServer,
};
use candor_proto::membership::v1::{
    GetIncidentProgressRequest, GetIncidentProgressResponse, GetMembershipRequest,
    GetMembershipResponse, GrantCreditRequest, GrantCreditResponse, ListCreditsRequest,
    ListCreditsResponse,
};
use candor_testkit::service::RunningService;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracing::Instrument;

pub const OPERATOR: &str = "grpc-test-operator-token";
pub const FORUM: &str = "grpc-test-forum-token-0123";
pub const FRONTEND: &str = "grpc-test-frontend-token-0123";

/// What the probe saw of one call: its identity and client address.
pub type Seen = (Identity, Option<IpAddr>);

/// A stand-in membership service: `GetMembership` takes `delay` and records
/// the identity and client address the permission layer resolved,
/// `GrantCredit` checks it was admitted, and every call records the trace
/// id it ran under.
#[derive(Clone)]
pub struct Probe {
    delay: Duration,
    seen_trace_ids: Arc<Mutex<Vec<String>>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// What was left of each `GetMembership` call's deadline as it began.
    pub deadlines_left: Arc<Mutex<Vec<Option<Duration>>>>,
}

#[tonic::async_trait]
impl MembershipService for Probe {
    async fn get_membership(
        &self,
        request: Request<GetMembershipRequest>,
    ) -> Result<Response<GetMembershipResponse>, Status> {
        self.seen
            .lock()
            .unwrap()
            .push((Identity::of(&request), ClientAddress::of(&request)));
        self.seen_trace_ids
            .lock()
            .unwrap()
            .push(candor_platform::telemetry::current_trace_id());
        self.deadlines_left
            .lock()
            .unwrap()
            .push(candor_platform::grpc::deadline::remaining());
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(GetMembershipResponse::default()))
    }

    async fn list_credits(
        &self,
        _request: Request<ListCreditsRequest>,
    ) -> Result<Response<ListCreditsResponse>, Status> {
        Err(Status::unimplemented("not part of this probe"))
    }

    async fn grant_credit(
        &self,
        request: Request<GrantCreditRequest>,
    ) -> Result<Response<GrantCreditResponse>, Status> {
        admitted(&request)?;
        Ok(Response::new(GrantCreditResponse::default()))
    }

    async fn get_incident_progress(
        &self,
        _request: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        Err(Status::unimplemented("not part of this probe"))
    }
}

impl Probe {
    /// A probe whose `GetMembership` takes `delay`.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            seen_trace_ids: Arc::default(),
            seen: Arc::default(),
            deadlines_left: Arc::default(),
        }
    }
}

/// The probe's settings: operator, forum and front end known.
pub fn auth_config() -> AuthConfig {
    let mut auth = AuthConfig::new(OPERATOR, "grpc-test-own-token-0123");
    auth.caller_tokens =
        Some(CallerTokens::parse(&format!("forum={FORUM},frontend={FRONTEND}")).unwrap());
    auth
}

async fn start(delay: Duration, grace: Duration) -> (RunningService, Probe) {
    start_with(delay, grace, Limits::default(), 4 * 1024 * 1024, None).await
}

/// The probe behind the permission layer of [`auth_config`], within
/// `limits`, decoding messages of at most `max_message` bytes.
pub async fn start_with(
    delay: Duration,
    grace: Duration,
    limits: Limits,
    max_message: usize,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> (RunningService, Probe) {
    candor_testkit::tracing::init();
    let probe = Probe::new(delay);
    let tls_on = tls.is_some();
    let auth = auth_config();
    let guard = Guard::new(
        Credentials::new(&auth).unwrap(),
        ProxyTrust::new(&auth.trusted_proxy_callers, &[]),
    );
    let server = GrpcServer::new(guard, limits)
        .unwrap()
        .add_service(
            MembershipServiceServer::new(probe.clone()).max_decoding_message_size(max_message),
        )
        .with_tls(tls);
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = RunningService::spawn("probe", addr, move |shutdown| async move {
        server.serve(listener, shutdown, grace).await
    });
    if !tls_on {
        service
            .wait_until_serving(Duration::from_secs(20))
            .await
            .unwrap();
    }
    (service, probe)
}

#[tokio::test]
async fn health_reports_the_server_and_each_service_serving() {
    let (service, _) = start(Duration::ZERO, Duration::from_secs(5)).await;
    assert_eq!(service.health("").await.unwrap(), ServingStatus::Serving);
    assert_eq!(
        service
            .health("candor.membership.v1.MembershipService")
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_turns_health_not_serving_and_lets_in_flight_calls_finish() {
    let (service, _) = start(Duration::from_millis(1500), Duration::from_secs(20)).await;
    let channel = service.channel().await.unwrap();

    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let mut client = MembershipServiceClient::with_interceptor(channel, operator());
    let in_flight =
        tokio::spawn(async move { client.get_membership(GetMembershipRequest::default()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.begin_shutdown();

    let next = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("a health update after shutdown began")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    drop(watch);

    let answered = in_flight.await.unwrap();
    assert!(
        answered.is_ok(),
        "the in-flight call finished: {answered:?}"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_does_not_wait_past_the_grace_period_for_a_stuck_call() {
    let (service, _) = start(Duration::from_secs(60), Duration::from_millis(500)).await;
    let mut client =
        MembershipServiceClient::with_interceptor(service.channel().await.unwrap(), operator());
    let in_flight =
        tokio::spawn(async move { client.get_membership(GetMembershipRequest::default()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    service.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "serve returned after its grace, not after the 60 s call"
    );
    assert!(!in_flight.is_finished(), "the stuck call was still running");
    in_flight.abort();
}

#[tokio::test]
async fn operator_rpcs_check_the_bearer_token() {
    let (service, _) = start(Duration::ZERO, Duration::from_secs(5)).await;
    let channel = service.channel().await.unwrap();

    let mut anonymous = MembershipServiceClient::new(channel.clone());
    let status = anonymous
        .grant_credit(GrantCreditRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let forum_token = OutgoingInterceptor::with_token(&FORUM.into()).unwrap();
    let mut as_forum = MembershipServiceClient::with_interceptor(channel.clone(), forum_token);
    let status = as_forum
        .grant_credit(GrantCreditRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "the forum caller may not call /candor.membership.v1.MembershipService/GrantCredit"
    );

    let mut as_operator = MembershipServiceClient::with_interceptor(channel, operator());
    as_operator
        .grant_credit(GrantCreditRequest::default())
        .await
        .unwrap();
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_joins_the_callers_trace() {
    let (service, probe) = start(Duration::ZERO, Duration::from_secs(5)).await;
    let channel = service.channel().await.unwrap();
    let mut client = MembershipServiceClient::with_interceptor(channel, operator());

    let span = tracing::info_span!("caller");
    let caller_trace_id = async {
        client
            .get_membership(GetMembershipRequest::default())
            .await
            .unwrap();
        candor_platform::telemetry::current_trace_id()
    }
    .instrument(span)
    .await;

    assert_ne!(caller_trace_id, "00000000000000000000000000000000");
    let seen = probe.seen_trace_ids.lock().unwrap().clone();
    assert_eq!(seen, vec![caller_trace_id]);
    service.stop().await.unwrap();
}

pub fn operator() -> OutgoingInterceptor {
    OutgoingInterceptor::with_token(&OPERATOR.into()).unwrap()
}
