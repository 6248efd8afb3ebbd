//! The gRPC server: health and its shutdown transition, draining of
//! in-flight calls, bearer-token checks, and trace context across a call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_platform::auth::{Credentials, OutgoingInterceptor, Principal};
use candor_platform::config::AuthConfig;
use candor_platform::grpc::{GrpcServer, bind};
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

const OPERATOR: &str = "grpc-test-operator-token";
const SERVICE: &str = "grpc-test-service-token";

/// A stand-in membership service: `GetMembership` takes `delay`,
/// `GrantCredit` demands the operator credential, and every call records
/// the trace id it ran under.
#[derive(Clone)]
struct Probe {
    delay: Duration,
    credentials: Credentials,
    seen_trace_ids: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl MembershipService for Probe {
    async fn get_membership(
        &self,
        _request: Request<GetMembershipRequest>,
    ) -> Result<Response<GetMembershipResponse>, Status> {
        self.seen_trace_ids
            .lock()
            .unwrap()
            .push(candor_platform::telemetry::current_trace_id());
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
        self.credentials
            .require(request.metadata(), &[Principal::Operator])?;
        Ok(Response::new(GrantCreditResponse::default()))
    }

    async fn get_incident_progress(
        &self,
        _request: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        Err(Status::unimplemented("not part of this probe"))
    }
}

async fn start(delay: Duration, grace: Duration) -> (RunningService, Probe) {
    candor_testkit::tracing::init();
    let probe = Probe {
        delay,
        credentials: Credentials::new(&AuthConfig::new(OPERATOR, SERVICE)),
        seen_trace_ids: Arc::default(),
    };
    let server = GrpcServer::new()
        .unwrap()
        .add_service(MembershipServiceServer::new(probe.clone()));
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = RunningService::spawn("probe", addr, move |shutdown| async move {
        server.serve(listener, shutdown, grace).await
    });
    service
        .wait_until_serving(Duration::from_secs(20))
        .await
        .unwrap();
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

    let mut client = MembershipServiceClient::new(channel);
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
    let mut client = MembershipServiceClient::new(service.channel().await.unwrap());
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

    let service_token = OutgoingInterceptor::with_token(&SERVICE.into()).unwrap();
    let mut as_service = MembershipServiceClient::with_interceptor(channel.clone(), service_token);
    let status = as_service
        .grant_credit(GrantCreditRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let operator_token = OutgoingInterceptor::with_token(&OPERATOR.into()).unwrap();
    let mut as_operator = MembershipServiceClient::with_interceptor(channel, operator_token);
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
    let mut client =
        MembershipServiceClient::with_interceptor(channel, OutgoingInterceptor::trace_only());

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
