//! What the delivery-report intake tests share: the service started with
//! the intake's credentials, a small HTTP client, and stand-ins for the
//! providers' signing — an SNS signing certificate (RSA, made here) served
//! over HTTPS by a local server, and a SendGrid P-256 key.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use candor_notification::intake::DeliveryReportsConfig;
use candor_notification::intake::certificates::HostPatterns;
use candor_notification::intake::credentials::SendGridKey;
use candor_platform::service::ServiceApp as _;
use candor_testkit::service::RunningService;
use candor_testkit::tls::TestPki;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use x509_parser::der_parser::num_bigint::BigUint;

/// The DSN and ARF bearer token of the tests.
pub const REPORT_TOKEN: &str = "delivery-reports-token-0123456789";

/// The SNS topic the tests accept.
pub const TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:candor-ses-events";

/// The service, started, and where its intake listens.
pub struct IntakeService {
    /// The running service (gRPC as usual).
    pub service: RunningService,
    /// The intake's address.
    pub addr: SocketAddr,
}

/// Starts the service with `config`; its intake on a free port.
pub async fn start_intake(config: candor_notification::Config) -> IntakeService {
    let app = candor_notification::App::build(config).await.unwrap();
    let addr = app.delivery_reports_addr().expect("the intake listens");
    let service = RunningService::serving(
        candor_notification::BINARY_NAME,
        app.grpc_addr().unwrap(),
        |shutdown| app.run_until(shutdown),
    )
    .await
    .unwrap();
    IntakeService { service, addr }
}

/// Intake settings with the DSN/ARF token, SES from [`TOPIC_ARN`] with
/// certificates from `sns` and SendGrid with `sendgrid`'s key.
pub fn credentials(sns: &SnsStandIn, sendgrid: &SendGridSigner) -> DeliveryReportsConfig {
    DeliveryReportsConfig {
        delivery_reports_token: Some(SecretString::from(REPORT_TOKEN)),
        ses_sns_topic_arns: clap_value(&format!(
            "{TOPIC_ARN},arn:aws:sns:eu-west-1:123456789012:other"
        )),
        ses_sns_certificate_hosts: HostPatterns::parse(&format!("localhost:{}", sns.addr.port()))
            .unwrap(),
        ses_sns_ca_file: Some(sns.pki.ca.clone()),
        sendgrid_webhook_public_key: SendGridKey::parse(&sendgrid.public_key).unwrap(),
        ..DeliveryReportsConfig::default()
    }
}

/// `SES_SNS_TOPIC_ARNS` parsed the way the command line parses it.
fn clap_value(arns: &str) -> candor_notification::intake::credentials::TopicArns {
    candor_notification::intake::credentials::TopicArns::parse(arns).unwrap()
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// POSTs `body` to `path` of the intake with `headers` (HTTP/1.1, one
/// request per connection).
pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // A refused body may be answered before it is all sent.
    let _ = stream.write_all(body).await;
    read_answer(stream).await
}

/// Sends only a request's head announcing a body of `length` bytes, and
/// reads the answer (for limits checked before the body is read).
pub async fn announce(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    length: usize,
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request =
        format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {length}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_answer(stream).await
}

/// Reads an HTTP answer until the server closes.
async fn read_answer(mut stream: tokio::net::TcpStream) -> Answer {
    let mut answer = Vec::new();
    let mut buffer = [0; 8192];
    // Up to the blank line and the body; the server closes after it.
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut buffer))
            .await
        {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
        }
        if complete(&answer) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Answer { status, body }
}

/// Whether `answer` holds a whole response (its head and content-length
/// bytes of body).
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    body.len() >= length
}

/// `authorization: Bearer` with the tests' token.
pub fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {REPORT_TOKEN}"))
}

/// SendGrid's side: a P-256 key and the webhook's signature.
pub struct SendGridSigner {
    pair: EcdsaKeyPair,
    /// The base64 DER SubjectPublicKeyInfo, as SendGrid shows it.
    pub public_key: String,
}

impl SendGridSigner {
    /// A fresh key.
    pub fn generate() -> Self {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &random).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &random)
                .unwrap();
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        spki.extend_from_slice(pair.public_key().as_ref());
        Self {
            pair,
            public_key: BASE64.encode(spki),
        }
    }

    /// The signature and timestamp headers for `body` signed at `at`
    /// (Unix seconds).
    pub fn headers(&self, body: &[u8], at: i64) -> Vec<(&'static str, String)> {
        let timestamp = at.to_string();
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        let signature = self.pair.sign(&SystemRandom::new(), &signed).unwrap();
        vec![
            (
                "x-twilio-email-event-webhook-signature",
                BASE64.encode(signature),
            ),
            ("x-twilio-email-event-webhook-timestamp", timestamp),
        ]
    }
}

/// Amazon SNS's side: an RSA signing key with its self-signed certificate,
/// served at `https://localhost:<port>/SimpleNotificationService.pem` by a
/// local HTTPS server (certificate from a test CA given to the service as
/// `SES_SNS_CA_FILE`), which also answers subscription confirmations and
/// remembers the paths it was asked for.
pub struct SnsStandIn {
    /// The HTTPS server's CA, certificate and key.
    pub pki: TestPki,
    /// The HTTPS server's address.
    pub addr: SocketAddr,
    modulus: BigUint,
    private_exponent: BigUint,
    visited: Arc<Mutex<Vec<String>>>,
}

/// DigestInfo prefixes of PKCS #1 v1.5 signatures.
const SHA1_DIGEST_INFO: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
const SHA256_DIGEST_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl SnsStandIn {
    /// Generates the key and certificate and starts the HTTPS server.
    pub async fn start() -> Self {
        use aws_lc_rs::encoding::AsDer as _;
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der = key.as_der().unwrap();
        let (modulus, private_exponent) = rsa_numbers(pkcs8.as_ref());
        let signing = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()])
            .unwrap()
            .self_signed(&signing)
            .unwrap()
            .pem();
        let pki = TestPki::generate().unwrap();
        let visited = Arc::new(Mutex::new(Vec::new()));
        let addr = serve_https(&pki, certificate, visited.clone()).await;
        Self {
            pki,
            addr,
            modulus,
            private_exponent,
            visited,
        }
    }

    /// The certificate's URL.
    pub fn certificate_url(&self) -> String {
        format!(
            "https://localhost:{}/SimpleNotificationService.pem",
            self.addr.port()
        )
    }

    /// The paths (with queries) asked for so far.
    pub fn visited(&self) -> Vec<String> {
        self.visited.lock().unwrap().clone()
    }

    /// An SNS envelope of `kind` around `message`, signed with
    /// SignatureVersion `version`.
    pub fn envelope(
        &self,
        kind: &str,
        message: &str,
        topic: &str,
        version: u8,
    ) -> serde_json::Value {
        let message_id = uuid::Uuid::new_v4().to_string();
        let mut envelope = serde_json::json!({
            "Type": kind,
            "MessageId": message_id,
            "TopicArn": topic,
            "Message": message,
            "Timestamp": "2026-11-25T09:15:03.123Z",
            "SignatureVersion": version.to_string(),
            "Signature": "",
            "SigningCertURL": self.certificate_url(),
            "UnsubscribeURL": format!("https://localhost:{}/?Action=Unsubscribe", self.addr.port()),
        });
        if kind != "Notification" {
            envelope["Token"] = serde_json::json!("2336412f37fb687f5d51e6e241d09c80");
            envelope["SubscribeURL"] = serde_json::json!(format!(
                "https://localhost:{}/?Action=ConfirmSubscription&TopicArn={topic}&Token=2336412f37fb687f5d51e6e241d09c80",
                self.addr.port()
            ));
        }
        self.sign(&mut envelope);
        envelope
    }

    /// (Re)signs `envelope` after a change.
    pub fn sign(&self, envelope: &mut serde_json::Value) {
        let parsed = candor_notification::intake::sns::Envelope::parse(
            &serde_json::to_vec(envelope).unwrap(),
        )
        .unwrap();
        let signed = parsed.string_to_sign().unwrap();
        let (digest_info, digest) = match parsed.signature_version.as_str() {
            "1" => (
                SHA1_DIGEST_INFO,
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, signed.as_bytes()),
            ),
            _ => (
                SHA256_DIGEST_INFO,
                ring::digest::digest(&ring::digest::SHA256, signed.as_bytes()),
            ),
        };
        let mut encoded = digest_info.to_vec();
        encoded.extend_from_slice(digest.as_ref());
        let signature = pkcs1_sign(&self.modulus, &self.private_exponent, &encoded);
        envelope["Signature"] = serde_json::json!(BASE64.encode(signature));
    }
}

/// RSASSA-PKCS1-v1_5 by the book: pad the DigestInfo and raise it to the
/// private exponent (no SHA-1 signing in the crypto libraries at hand).
fn pkcs1_sign(modulus: &BigUint, private_exponent: &BigUint, digest_info: &[u8]) -> Vec<u8> {
    let length = modulus.to_bytes_be().len();
    let mut padded = vec![0x00, 0x01];
    padded.resize(length - digest_info.len() - 1, 0xff);
    padded.push(0x00);
    padded.extend_from_slice(digest_info);
    let signature = BigUint::from_bytes_be(&padded)
        .modpow(private_exponent, modulus)
        .to_bytes_be();
    let mut out = vec![0; length - signature.len()];
    out.extend_from_slice(&signature);
    out
}

/// The modulus and private exponent of a PKCS #8 RSA key.
fn rsa_numbers(pkcs8: &[u8]) -> (BigUint, BigUint) {
    use x509_parser::der_parser::parse_der;
    let (_, info) = parse_der(pkcs8).unwrap();
    let private_key = info.as_sequence().unwrap()[2].as_slice().unwrap();
    let (_, key) = parse_der(private_key).unwrap();
    let fields = key.as_sequence().unwrap();
    (
        fields[1].as_biguint().unwrap(),
        fields[3].as_biguint().unwrap(),
    )
}

/// An HTTPS server answering every GET with `certificate` and recording
/// the path.
async fn serve_https(
    pki: &TestPki,
    certificate: String,
    visited: Arc<Mutex<Vec<String>>>,
) -> SocketAddr {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let certificate = certificate.clone();
            let visited = visited.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(client).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                visited.lock().unwrap().push(path);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{certificate}",
                    certificate.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}
