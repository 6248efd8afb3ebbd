//! A caller identified by its client certificate, as on a deployment with
//! GRPC_TLS_REQUIRE_CLIENT_CERT: no token at all.

use candor_client::Connection;
use candor_client::proto::account::v1::ListIncidentsRequest;
use candor_e2e::stack::Stack;

#[tokio::test]
async fn the_operators_certificate_is_its_credential() {
    let stack = Stack::in_process_over_mutual_tls().await.unwrap();
    let tls = &stack.endpoints.tls;
    let read = |path: &Option<std::path::PathBuf>| std::fs::read(path.as_ref().unwrap()).unwrap();
    let url = &stack.endpoints.account_grpc_url;
    assert!(url.starts_with("https://"), "{url}");

    let operator = Connection::builder(url)
        .tls_ca_pem(read(&tls.grpc_tls_ca_file))
        .tls_identity_pem(read(&tls.grpc_tls_cert_file), read(&tls.grpc_tls_key_file))
        .connect_lazy()
        .unwrap();
    operator
        .account()
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap();

    // Without a certificate the TLS handshake itself is refused.
    let anonymous = Connection::builder(url)
        .tls_ca_pem(read(&tls.grpc_tls_ca_file))
        .connect_lazy()
        .unwrap();
    let refused = anonymous
        .account()
        .list_incidents(ListIncidentsRequest::default())
        .await
        .unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Ok);

    stack.stop().await.unwrap();
}
