//! The health service name `candor.notification.v1.NotificationService.Sending`
//! follows the SMTP server: NOT_SERVING while it cannot be reached, SERVING
//! again when it can, with one log line per change saying why; the API and
//! the server's own health keep answering meanwhile. Checked on the real
//! binary, as an operator's probe sees it.

use std::time::Duration;

use candor_notification::smtp::SENDING_HEALTH_SERVICE;
use candor_proto::notification::v1::GetIncidentProgressRequest;
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_testkit::binary::free_port;
use candor_testkit::conformance::wait_for_serving;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::proxy::TcpProxy;
use candor_testkit::smtp::SmtpSink;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

async fn health(channel: &Channel, service: &str) -> Option<ServingStatus> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .ok()
        .map(|response| response.into_inner().status())
}

async fn sending_becomes(channel: &Channel, wanted: ServingStatus) {
    eventually(LONG, &format!("sending health {wanted:?}"), || async {
        (health(channel, SENDING_HEALTH_SERVICE).await == Some(wanted)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sending_health_is_not_serving_while_the_smtp_server_is_unreachable() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let proxy = TcpProxy::start(sink.addr()).await.unwrap();
    proxy.cut();
    let port = free_port().unwrap();
    let running = environment
        .binary(env!("CARGO_BIN_EXE_candor-notification"))
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("SMTP_URL", format!("smtp://{}", proxy.address()))
        .env("ORGANISATION_NAME", "Candor Books")
        .env("SMTP_PROBE_INTERVAL_SECONDS", "1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap();
    let channel = wait_for_serving(&format!("http://127.0.0.1:{port}"), LONG)
        .await
        .unwrap();

    sending_becomes(&channel, ServingStatus::NotServing).await;
    // Several probes fail while it stays down: the log says so once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        health(&channel, "").await,
        Some(ServingStatus::Serving),
        "the server itself stays SERVING"
    );
    assert_eq!(
        health(&channel, "candor.notification.v1.NotificationService").await,
        Some(ServingStatus::Serving)
    );
    let answer = NotificationServiceClient::new(channel.clone())
        .get_incident_progress(as_operator(GetIncidentProgressRequest {
            incident_id: "not-reported".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(answer.code(), tonic::Code::NotFound, "the API answers");

    proxy.restore();
    sending_becomes(&channel, ServingStatus::Serving).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let exited = running.terminate(LONG).unwrap();
    let lines_with = |text: &str| -> Vec<&str> {
        exited
            .stdout
            .lines()
            .filter(|line| line.contains(text))
            .collect()
    };
    let down = lines_with("smtp server unreachable");
    assert_eq!(down.len(), 1, "one line per change: {down:?}");
    assert!(down[0].contains(SENDING_HEALTH_SERVICE), "{}", down[0]);
    assert!(
        down[0].contains("SMTP greeting failed"),
        "says why: {}",
        down[0]
    );
    assert_eq!(lines_with("smtp server reachable").len(), 1);
}
