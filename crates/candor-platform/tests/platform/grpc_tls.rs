//! TLS for gRPC: a server with a certificate serves only TLS, callers
//! verify it against the configured CA, mutual TLS refuses callers without
//! a certificate from that CA, and bad files stop the start naming the
//! setting.

use std::path::PathBuf;
use std::time::Duration;

use candor_platform::auth::forwarded::ProxyTrust;
use candor_platform::auth::{Caller, Credentials};
use candor_platform::config::GrpcTlsConfig;
use candor_platform::grpc::{GrpcServer, GrpcTls, Guard, Limits, bind};
use candor_proto::membership::v1::GrantCreditRequest;
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_testkit::service::RunningService;
use candor_testkit::tls::TestPki;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn config(cert: Option<&PathBuf>, key: Option<&PathBuf>, ca: Option<&PathBuf>) -> GrpcTlsConfig {
    GrpcTlsConfig {
        grpc_tls_cert_file: cert.cloned(),
        grpc_tls_key_file: key.cloned(),
        grpc_tls_ca_file: ca.cloned(),
    }
}

/// A bare `GrpcServer` (health only) with the server side of `tls`.
async fn serve(tls: &GrpcTls) -> (RunningService, u16) {
    candor_testkit::tracing::init();
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let guard = Guard::new(
        Credentials::new(&super::grpc::auth_config()).unwrap(),
        ProxyTrust::default(),
    );
    let server = GrpcServer::new(guard, Limits::default())
        .unwrap()
        .with_tls(tls.server_config());
    let service = RunningService::spawn("tls-probe", addr, move |shutdown| async move {
        server
            .serve(listener, shutdown, Duration::from_secs(1))
            .await
    });
    (service, addr.port())
}

async fn health(channel: Channel) -> Result<(), tonic::Status> {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
}

/// Retries while the server starts; any later failure is the answer.
async fn health_when_up(channel: Channel) -> Result<(), tonic::Status> {
    for _ in 0..50 {
        match health(channel.clone()).await {
            Err(status) if status.message().contains("Connection refused") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
    health(channel).await
}

#[tokio::test]
async fn a_server_with_a_certificate_serves_tls_verified_against_the_ca() {
    let pki = TestPki::generate().unwrap();
    let server_tls = GrpcTls::load(&config(Some(&pki.cert), Some(&pki.key), None), false).unwrap();
    let (service, port) = serve(&server_tls).await;

    let trusting = GrpcTls::load(&config(None, None, Some(&pki.ca)), false).unwrap();
    let secure = trusting
        .client_channel(&format!("https://localhost:{port}"))
        .unwrap();
    health_when_up(secure).await.unwrap();

    let plain = trusting
        .client_channel(&format!("http://127.0.0.1:{port}"))
        .unwrap();
    assert!(
        health(plain).await.is_err(),
        "plain-text gRPC reached a TLS server"
    );

    // The system's roots do not know the test CA.
    let untrusting = GrpcTls::system_roots()
        .client_channel(&format!("https://localhost:{port}"))
        .unwrap();
    assert!(
        health(untrusting).await.is_err(),
        "a certificate from an unknown CA was accepted"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_refuses_callers_without_a_certificate_from_the_ca() {
    let pki = TestPki::generate().unwrap();
    let server_tls = GrpcTls::load(
        &config(Some(&pki.cert), Some(&pki.key), Some(&pki.ca)),
        true,
    )
    .unwrap();
    let (service, port) = serve(&server_tls).await;
    let url = format!("https://localhost:{port}");

    // A service of the same deployment presents its own certificate.
    let member = server_tls.client_channel(&url).unwrap();
    health_when_up(member).await.unwrap();

    let anonymous = GrpcTls::load(&config(None, None, Some(&pki.ca)), false).unwrap();
    assert!(
        health(anonymous.client_channel(&url).unwrap())
            .await
            .is_err(),
        "a caller without a certificate got through"
    );

    let stranger = GrpcTls::load(
        &config(
            Some(&pki.stranger_cert),
            Some(&pki.stranger_key),
            Some(&pki.ca),
        ),
        false,
    )
    .unwrap();
    assert!(
        health(stranger.client_channel(&url).unwrap())
            .await
            .is_err(),
        "a caller with a certificate from another CA got through"
    );
    service.stop().await.unwrap();
}

#[test]
fn unusable_tls_files_name_the_setting() {
    let pki = TestPki::generate().unwrap();
    let error = |config: GrpcTlsConfig, require: bool| {
        format!("{:#}", GrpcTls::load(&config, require).unwrap_err())
    };

    let missing = pki.directory().join("absent.pem");
    let message = error(config(Some(&missing), Some(&pki.key), None), false);
    assert!(
        message.contains("GRPC_TLS_CERT_FILE") && message.contains("absent.pem"),
        "{message}"
    );

    // A key where the certificate belongs.
    let message = error(config(Some(&pki.key), Some(&pki.key), None), false);
    assert!(message.contains("GRPC_TLS_CERT_FILE"), "{message}");

    let message = error(config(None, None, Some(&pki.key)), false);
    assert!(message.contains("GRPC_TLS_CA_FILE"), "{message}");

    let message = error(config(Some(&pki.cert), Some(&pki.key), None), true);
    assert!(
        message.contains("GRPC_TLS_REQUIRE_CLIENT_CERT") && message.contains("GRPC_TLS_CA_FILE"),
        "{message}"
    );

    // A certificate with another certificate's key.
    let message = error(
        config(Some(&pki.cert), Some(&pki.stranger_key), None),
        false,
    );
    assert!(message.contains("GRPC_TLS_KEY_FILE"), "{message}");
}

/// With mutual TLS and no bearer caller token, the client certificate's
/// name is the caller: `operator` may grant credits, `forum` is refused by
/// name, and a certificate naming no caller is UNAUTHENTICATED.
#[tokio::test]
async fn a_client_certificate_names_its_caller() {
    let pki = TestPki::generate().unwrap();
    let (operator_cert, operator_key) = pki.caller_cert(Caller::Operator);
    let server_tls = GrpcTls::load(
        &config(Some(&operator_cert), Some(&operator_key), Some(&pki.ca)),
        true,
    )
    .unwrap();
    let (service, _) = super::grpc::start_with(
        Duration::ZERO,
        Duration::from_secs(1),
        Limits::default(),
        4 * 1024 * 1024,
        server_tls.server_config(),
    )
    .await;
    let url = format!("https://localhost:{}", service.addr().port());
    let client_as = |cert: &PathBuf, key: &PathBuf| {
        let tls = GrpcTls::load(&config(Some(cert), Some(key), Some(&pki.ca)), false).unwrap();
        MembershipServiceClient::new(tls.client_channel(&url).unwrap())
    };
    let grant = |mut client: MembershipServiceClient<Channel>| async move {
        for _ in 0..50 {
            match client.grant_credit(GrantCreditRequest::default()).await {
                Err(status) if status.message().contains("Connection refused") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other.map(|_| ()),
            }
        }
        panic!("the server never came up");
    };

    grant(client_as(&operator_cert, &operator_key))
        .await
        .unwrap();

    let (forum_cert, forum_key) = pki.caller_cert(Caller::Forum);
    let status = grant(client_as(&forum_cert, &forum_key)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(status.message().contains("the forum caller"), "{status:?}");

    // The shared test certificate names only localhost: no caller.
    let status = grant(client_as(&pki.cert, &pki.key)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    service.stop().await.unwrap();
}
