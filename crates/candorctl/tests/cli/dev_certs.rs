//! `candorctl dev-certs` writes certificates that a service accepts for
//! mutual TLS, and `candorctl health` passes it with them (as the compose
//! healthchecks in deploy/compose.tls.yml do) and fails without them.

use std::time::Duration;

use candor_platform::config::GrpcTlsConfig;
use candor_platform::grpc::{GrpcServer, GrpcTls, bind};
use candor_testkit::service::RunningService;

use crate::{candorctl, text};

#[tokio::test]
async fn dev_certificates_pass_mutual_tls_with_candorctl_health() {
    let out = std::env::temp_dir().join(format!("candorctl-dev-certs-{}", std::process::id()));
    let out_arg = out.display().to_string();
    let written = candorctl(&["dev-certs", "--out", &out_arg], &[]);
    assert!(written.status.success(), "{}", text(&written.stderr));
    let file = |name: &str| out.join(name).display().to_string();

    let tls = GrpcTls::load(
        &GrpcTlsConfig {
            grpc_tls_cert_file: Some(out.join("cert.pem")),
            grpc_tls_key_file: Some(out.join("key.pem")),
            grpc_tls_ca_file: Some(out.join("ca.pem")),
        },
        true,
    )
    .unwrap();
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = GrpcServer::new(
        candor_testkit::environment::test_guard().unwrap(),
        candor_platform::grpc::Limits::default(),
    )
    .unwrap()
    .with_tls(tls.server_config());
    let service = RunningService::spawn("dev-certs-probe", addr, move |shutdown| async move {
        server
            .serve(listener, shutdown, Duration::from_secs(1))
            .await
    });
    let url = format!("https://localhost:{}", addr.port());

    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    let health = move |env: Vec<(&'static str, String)>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            candorctl(&["health", "--addr", &url], &env)
        })
    };
    let member = vec![
        ("GRPC_TLS_CA_FILE", ca.clone()),
        ("GRPC_TLS_CERT_FILE", cert),
        ("GRPC_TLS_KEY_FILE", key),
    ];
    let mut answered = health(member.clone()).await.unwrap();
    for _ in 0..50 {
        if answered.status.success() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answered = health(member.clone()).await.unwrap();
    }
    assert!(
        answered.status.success(),
        "{}{}",
        text(&answered.stdout),
        text(&answered.stderr)
    );
    assert!(text(&answered.stdout).contains("serving"));

    // The CA alone is not enough: mutual TLS wants a client certificate.
    let anonymous = health(vec![("GRPC_TLS_CA_FILE", ca)]).await.unwrap();
    assert_eq!(
        anonymous.status.code(),
        Some(2),
        "{}",
        text(&anonymous.stdout)
    );

    service.stop().await.unwrap();
    // One certificate per caller, naming it.
    for caller in candor_platform::auth::Caller::ALL {
        let pem = std::fs::read(out.join(format!("{caller}-cert.pem"))).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        assert_eq!(
            candor_platform::grpc::certificates::caller_names(&pem.contents),
            vec![caller]
        );
        assert!(out.join(format!("{caller}-key.pem")).exists());
    }
    let _ = std::fs::remove_dir_all(&out);
}
