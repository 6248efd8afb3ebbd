//! Metrics of the gRPC server: every call counted once under its method and
//! final code (refused calls and unknown paths too), streams by their
//! trailers, and the text a scrape serves.

use std::time::Duration;

use candor_platform::auth::forwarded::ProxyTrust;
use candor_platform::auth::{Credentials, OutgoingInterceptor};
use candor_platform::config::MetricsConfig;
use candor_platform::grpc::{GrpcServer, Guard, Limits, bind};
use candor_platform::metrics::Metrics;
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::membership::v1::membership_service_server::MembershipServiceServer;
use candor_proto::membership::v1::{GetMembershipRequest, GrantCreditRequest, ListCreditsRequest};
use candor_testkit::service::RunningService;
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::grpc::{FORUM, Probe, auth_config, operator};

async fn start(metrics: &Metrics) -> RunningService {
    candor_testkit::tracing::init();
    let auth = auth_config();
    let guard = Guard::new(
        Credentials::new(&auth).unwrap(),
        ProxyTrust::new(&auth.trusted_proxy_callers, &[]),
    );
    let server = GrpcServer::new(guard, Limits::default())
        .unwrap()
        .with_metrics(metrics)
        .add_service(MembershipServiceServer::new(Probe::new(Duration::ZERO)));
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = RunningService::spawn("probe", addr, move |shutdown| async move {
        server
            .serve(listener, shutdown, Duration::from_secs(5))
            .await
    });
    service
        .wait_until_serving(Duration::from_secs(20))
        .await
        .unwrap();
    service
}

/// The value of the one series of `text` whose line starts with `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn calls_are_counted_by_method_and_final_code() {
    let metrics = Metrics::new("candor-test", &MetricsConfig::default()).unwrap();
    let service = start(&metrics).await;
    let channel = service.channel().await.unwrap();

    let mut as_operator = MembershipServiceClient::with_interceptor(channel.clone(), operator());
    as_operator
        .get_membership(GetMembershipRequest::default())
        .await
        .unwrap();
    as_operator
        .get_membership(GetMembershipRequest::default())
        .await
        .unwrap();
    let unimplemented = as_operator
        .list_credits(ListCreditsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unimplemented.code(), tonic::Code::Unimplemented);
    let mut anonymous = MembershipServiceClient::new(channel.clone());
    anonymous
        .grant_credit(GrantCreditRequest::default())
        .await
        .unwrap_err();
    let forum = OutgoingInterceptor::with_token(&FORUM.into()).unwrap();
    MembershipServiceClient::with_interceptor(channel.clone(), forum)
        .grant_credit(GrantCreditRequest::default())
        .await
        .unwrap_err();

    // A stream the client drops before it ends is a cancelled call.
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    watch.next().await.unwrap().unwrap();
    drop(watch);

    // A path outside Candor's contracts does not become a label.
    let mut raw = tonic::client::Grpc::new(channel.clone());
    raw.ready().await.unwrap();
    let made_up: Result<tonic::Response<()>, _> = raw
        .unary(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static("/made.up.v1.Service/Attack1234"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert!(made_up.is_err());

    let membership = r#"grpc_service="candor.membership.v1.MembershipService""#;
    let text = candor_testkit::poll::eventually(
        Duration::from_secs(10),
        "the dropped stream to be recorded",
        || async {
            let text = metrics.render().await.unwrap();
            text.contains(r#"grpc_code="Canceled""#).then_some(text)
        },
    )
    .await;
    let handled = |method: &str, code: &str| {
        value(
            &text,
            &format!(
                r#"grpc_server_handled_total{{grpc_code="{code}",grpc_method="{method}",{membership},grpc_type="unary"}}"#
            ),
        )
    };
    assert_eq!(handled("GetMembership", "OK"), Some(2.0), "{text}");
    assert_eq!(handled("ListCredits", "Unimplemented"), Some(1.0), "{text}");
    assert_eq!(
        handled("GrantCredit", "Unauthenticated"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        handled("GrantCredit", "PermissionDenied"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"grpc_server_started_total{{grpc_method="GetMembership",{membership},grpc_type="unary"}}"#
            )
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"grpc_server_handling_seconds_count{{grpc_method="GetMembership",{membership},grpc_type="unary"}}"#
            )
        ),
        Some(2.0)
    );
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_code="Canceled",grpc_method="Watch",grpc_service="grpc.health.v1.Health",grpc_type="server_stream"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"grpc_method="unknown",grpc_service="unknown""#),
        "{text}"
    );
    assert!(!text.contains("Attack1234"), "{text}");
    assert!(text.contains("candor_build_info{service=\"candor-test\""));
    assert!(text.contains("process_resident_memory_bytes"));
    service.stop().await.unwrap();
}

#[tokio::test]
async fn disabled_metrics_render_nothing() {
    let metrics = Metrics::disabled();
    let service = start(&metrics).await;
    let mut client =
        MembershipServiceClient::with_interceptor(service.channel().await.unwrap(), operator());
    client
        .get_membership(GetMembershipRequest::default())
        .await
        .unwrap();
    assert_eq!(metrics.render().await.unwrap(), "");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn consumed_messages_are_counted_by_outcome_and_reason_class() {
    use candor_platform::messaging::{CONTENT_TYPE_PROTOBUF, QueueSpec};
    use candor_testkit::rabbitmq::TestBroker;
    use prost::Message as _;

    use crate::messaging::{
        DEADLINE, ROUTING_KEY, RunningConsumer, broker, event, fast_options, ids,
        recording_handler, wait_until,
    };

    let metrics = Metrics::new("candor-test", &MetricsConfig::default()).unwrap();
    let test_broker = TestBroker::new();
    let queue = test_broker
        .declare_queue(&QueueSpec::new("metered", [ROUTING_KEY, "breach.reported"]))
        .await
        .unwrap();
    let broker = broker(&test_broker.config());
    let (received, handler) = recording_handler();
    let options = fast_options().with_metrics_default(&metrics);
    let consumer = RunningConsumer::start(&broker, &queue, handler, options);

    // Undecodable: the handler finds it invalid.
    test_broker
        .publish_raw(
            ROUTING_KEY,
            Some(CONTENT_TYPE_PROTOBUF),
            &[0xff, 0xff, 0xff],
        )
        .await
        .unwrap();
    // A contract key from a user who does not own it: refused unread.
    test_broker
        .publish_raw("breach.reported", Some(CONTENT_TYPE_PROTOBUF), b"")
        .await
        .unwrap();
    test_broker
        .publish_raw(
            ROUTING_KEY,
            Some(CONTENT_TYPE_PROTOBUF),
            &event("good", 1).encode_to_vec(),
        )
        .await
        .unwrap();
    wait_until("the good message is handled", || ids(&received) == ["good"]).await;
    test_broker
        .wait_for_dead_letters("metered", 2, DEADLINE)
        .await
        .unwrap();

    let consumed = |routing_key: &str, outcome: &str, reason: &str| {
        format!(
            r#"candor_messages_consumed_total{{outcome="{outcome}",queue="metered",reason="{reason}",routing_key="{routing_key}"}}"#
        )
    };
    let text = candor_testkit::poll::eventually(DEADLINE, "three messages counted", || async {
        let text = metrics.render().await.unwrap();
        (value(&text, &consumed("other", "acked", "none")) == Some(1.0)
            && value(&text, &consumed("other", "dead_lettered", "invalid")) == Some(1.0)
            && value(
                &text,
                &consumed("breach.reported", "dead_lettered", "refused"),
            ) == Some(1.0))
        .then_some(text)
    })
    .await;
    assert_eq!(
        value(&text, r#"candor_consumer_connected{queue="metered"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"candor_messages_published_total{exchange="dead_letters",outcome="confirmed",routing_key="dead_letter"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"candor_message_handler_seconds_count{queue="metered",routing_key="other"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        !text.contains(&queue),
        "the namespaced queue name is no label: {text}"
    );

    consumer.stop().await;
    let text = metrics.render().await.unwrap();
    assert_eq!(
        value(&text, r#"candor_consumer_connected{queue="metered"}"#),
        Some(0.0),
        "{text}"
    );
}
