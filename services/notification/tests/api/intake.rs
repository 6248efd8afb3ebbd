//! The delivery-report intake's gatekeeping, over HTTP against the running
//! service: endpoints off without their credential, tokens, signatures,
//! topics, certificate hosts, malformed and oversized bodies.

use candor_notification::intake::DeliveryReportsConfig;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;
use secrecy::SecretString;

use crate::helpers::config;
use crate::intake_support::*;

const DSN: &[u8] = include_bytes!("../fixtures/delivery_reports/dsn_postfix_hard.eml");
const ARF: &[u8] = include_bytes!("../fixtures/delivery_reports/arf_abuse.eml");
const SENDGRID: &[u8] = include_bytes!("../fixtures/delivery_reports/sendgrid_events.json");
const SES_BOUNCE: &str = include_str!("../fixtures/delivery_reports/ses_bounce.json");

fn headers(pairs: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    pairs.to_vec()
}

fn borrowed<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[tokio::test]
async fn an_endpoint_without_its_credential_is_not_there() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    // Only the bearer token: SES and SendGrid are off.
    settings.delivery_reports = DeliveryReportsConfig {
        delivery_reports_token: Some(SecretString::from(REPORT_TOKEN)),
        ..DeliveryReportsConfig::default()
    };
    let intake = start_intake(settings).await;
    let token = bearer();
    for path in ["/delivery-reports/ses", "/delivery-reports/sendgrid"] {
        let answer = post(intake.addr, path, &[(token.0, token.1.as_str())], b"[]").await;
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
    }
    let answer = post(intake.addr, "/delivery-reports/elsewhere", &[], b"").await;
    assert_eq!(answer.status, 404);
    intake.service.stop().await.unwrap();

    // Only SendGrid: the token endpoints are off.
    let mut settings = config(&environment, &sink.url());
    let signer = SendGridSigner::generate();
    settings.delivery_reports = DeliveryReportsConfig {
        sendgrid_webhook_public_key: candor_notification::intake::credentials::SendGridKey::parse(
            &signer.public_key,
        )
        .unwrap(),
        ..DeliveryReportsConfig::default()
    };
    let intake = start_intake(settings).await;
    for path in [
        "/delivery-reports/dsn",
        "/delivery-reports/arf",
        "/delivery-reports/ses",
    ] {
        let answer = post(intake.addr, path, &[(token.0, token.1.as_str())], DSN).await;
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
    }
    // The intake stops with the service.
    intake.service.stop().await.unwrap();
    assert!(tokio::net::TcpStream::connect(intake.addr).await.is_err());
}

#[tokio::test]
async fn dsn_and_arf_take_only_the_bearer_token_and_well_formed_reports() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let sns = SnsStandIn::start().await;
    let sendgrid = SendGridSigner::generate();
    let mut settings = config(&environment, &sink.url());
    settings.delivery_reports = credentials(&sns, &sendgrid);
    let intake = start_intake(settings).await;
    let token = bearer();

    for (path, body) in [
        ("/delivery-reports/dsn", DSN),
        ("/delivery-reports/arf", ARF),
    ] {
        let missing = post(intake.addr, path, &[], body).await;
        assert_eq!(missing.status, 401, "{path}: {missing:?}");
        let wrong = post(
            intake.addr,
            path,
            &[("authorization", "Bearer delivery-reports-token-012345678X")],
            body,
        )
        .await;
        assert_eq!(wrong.status, 401, "{path}: {wrong:?}");
        assert!(
            !wrong.body.contains("012345678X"),
            "the token is not echoed"
        );
        let basic = post(
            intake.addr,
            path,
            &[("authorization", format!("Basic {REPORT_TOKEN}").as_str())],
            body,
        )
        .await;
        assert_eq!(basic.status, 401, "{path}: {basic:?}");
    }

    let plain = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
    let answer = post(
        intake.addr,
        "/delivery-reports/dsn",
        &[(token.0, token.1.as_str())],
        plain,
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer
            .body
            .contains("not a multipart/report with report-type=delivery-status"),
        "{}",
        answer.body
    );
    let answer = post(
        intake.addr,
        "/delivery-reports/arf",
        &[(token.0, token.1.as_str())],
        DSN,
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("report-type=feedback-report"),
        "{}",
        answer.body
    );

    // A body announced larger than 1 MiB is refused before it is sent.
    let answer = announce(
        intake.addr,
        "/delivery-reports/dsn",
        &[(token.0, token.1.as_str())],
        1024 * 1024 + 1,
    )
    .await;
    assert_eq!(answer.status, 413, "{answer:?}");
    intake.service.stop().await.unwrap();
}

#[tokio::test]
async fn sendgrid_takes_only_fresh_valid_signatures() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let sns = SnsStandIn::start().await;
    let signer = SendGridSigner::generate();
    let mut settings = config(&environment, &sink.url());
    settings.delivery_reports = credentials(&sns, &signer);
    let intake = start_intake(settings).await;
    let path = "/delivery-reports/sendgrid";
    let now = chrono::Utc::now().timestamp();

    let unsigned = post(intake.addr, path, &[], SENDGRID).await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    assert!(
        unsigned.body.contains("signature header is missing"),
        "{}",
        unsigned.body
    );

    let stranger = SendGridSigner::generate();
    let forged = headers(&stranger.headers(SENDGRID, now));
    let answer = post(intake.addr, path, &borrowed(&forged), SENDGRID).await;
    assert_eq!(answer.status, 401, "{answer:?}");

    let signed = headers(&signer.headers(SENDGRID, now));
    let mut tampered = SENDGRID.to_vec();
    tampered[20] ^= 1;
    let answer = post(intake.addr, path, &borrowed(&signed), &tampered).await;
    assert_eq!(answer.status, 401, "{answer:?}");

    let stale = headers(&signer.headers(SENDGRID, now - 6 * 60));
    let answer = post(intake.addr, path, &borrowed(&stale), SENDGRID).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(
        answer.body.contains("more than 5 minutes"),
        "{}",
        answer.body
    );

    let garbage = b"{\"not\": \"an array\"}";
    let signed = headers(&signer.headers(garbage, now));
    let answer = post(intake.addr, path, &borrowed(&signed), garbage).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("not a JSON array of events"),
        "{}",
        answer.body
    );
    intake.service.stop().await.unwrap();
}

#[tokio::test]
async fn ses_takes_only_signed_messages_of_its_topics_from_sns_hosts() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let sns = SnsStandIn::start().await;
    let sendgrid = SendGridSigner::generate();
    let mut settings = config(&environment, &sink.url());
    settings.delivery_reports = credentials(&sns, &sendgrid);
    let intake = start_intake(settings).await;
    let path = "/delivery-reports/ses";
    let send = |envelope: serde_json::Value| {
        let addr = intake.addr;
        async move {
            let kind = envelope["Type"].as_str().unwrap_or_default().to_owned();
            let body = serde_json::to_vec(&envelope).unwrap();
            post(
                addr,
                path,
                &[("x-amz-sns-message-type", kind.as_str())],
                &body,
            )
            .await
        }
    };

    let other_topic = "arn:aws:sns:eu-west-1:123456789012:somebody-elses";
    let answer = send(sns.envelope("Notification", SES_BOUNCE, other_topic, 2)).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(sns.visited().is_empty(), "no fetch for a foreign topic");

    let mut tampered = sns.envelope("Notification", SES_BOUNCE, TOPIC_ARN, 2);
    tampered["Message"] = serde_json::json!(SES_BOUNCE.replace("jane@", "joan@"));
    let answer = send(tampered).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.body.contains("does not verify"), "{}", answer.body);

    let mut elsewhere = sns.envelope("Notification", SES_BOUNCE, TOPIC_ARN, 1);
    elsewhere["SigningCertURL"] =
        serde_json::json!("https://attacker.example/SimpleNotificationService.pem");
    sns.sign(&mut elsewhere);
    let answer = send(elsewhere).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.body.contains("SigningCertURL"), "{}", answer.body);

    let mut plain_http = sns.envelope("Notification", SES_BOUNCE, TOPIC_ARN, 1);
    plain_http["SigningCertURL"] =
        serde_json::json!(sns.certificate_url().replace("https://", "http://"));
    sns.sign(&mut plain_http);
    assert_eq!(send(plain_http).await.status, 401);

    let answer = post(intake.addr, path, &[], b"{\"Type\": \"Notification\"}").await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("not an SNS message"),
        "{}",
        answer.body
    );

    let not_ses = sns.envelope("Notification", "{\"hello\": 1}", TOPIC_ARN, 2);
    let answer = send(not_ses).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("no notificationType or eventType"),
        "{}",
        answer.body
    );

    // A subscription is confirmed by visiting its SubscribeURL.
    let confirmation = sns.envelope(
        "SubscriptionConfirmation",
        "You have chosen to subscribe…",
        TOPIC_ARN,
        1,
    );
    let answer = send(confirmation).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        sns.visited()
            .iter()
            .any(|path| path.contains("Action=ConfirmSubscription")),
        "{:?}",
        sns.visited()
    );
    // The certificate was fetched once and cached since.
    let fetched = sns
        .visited()
        .iter()
        .filter(|path| path.ends_with(".pem"))
        .count();
    assert_eq!(fetched, 1, "{:?}", sns.visited());

    // A SubscribeURL off the SNS hosts is never visited.
    let mut elsewhere = sns.envelope("SubscriptionConfirmation", "subscribe?", TOPIC_ARN, 2);
    elsewhere["SubscribeURL"] =
        serde_json::json!("https://attacker.example/?Action=ConfirmSubscription");
    sns.sign(&mut elsewhere);
    let answer = send(elsewhere).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.body.contains("SubscribeURL"), "{}", answer.body);
    // An unsubscription is acknowledged (and logged for the operator).
    let answer = send(sns.envelope("UnsubscribeConfirmation", "bye", TOPIC_ARN, 2)).await;
    assert_eq!(answer.status, 204, "{answer:?}");
    // A message type header that contradicts the body is refused.
    let body = serde_json::to_vec(&sns.envelope("Notification", SES_BOUNCE, TOPIC_ARN, 2)).unwrap();
    let answer = post(
        intake.addr,
        path,
        &[("x-amz-sns-message-type", "SubscriptionConfirmation")],
        &body,
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    intake.service.stop().await.unwrap();
}

#[tokio::test]
async fn the_intakes_settings_are_checked_at_start_and_never_echo_a_secret() {
    let environment = TestEnvironment::new().await.unwrap();
    let organisation = ("ORGANISATION_NAME", "Candor Books".to_owned());
    let config: candor_notification::Config = environment
        .config(std::slice::from_ref(&organisation))
        .unwrap();
    assert_eq!(
        config.delivery_reports.listen_addr(),
        None,
        "no credential, no listener (so replicas and tests never collide on 8452)"
    );
    let cases = [
        ("DELIVERY_REPORTS_TOKEN", "short-secret"),
        ("SENDGRID_WEBHOOK_PUBLIC_KEY", "bm90IGEga2V5"),
        ("SES_SNS_TOPIC_ARNS", "arn:aws:sqs:eu-west-1:1:queue"),
        ("SES_SNS_CERTIFICATE_HOSTS", "bad host"),
        ("DELIVERY_REPORTS_ADDR", "everywhere"),
    ];
    for (variable, value) in cases {
        let error = environment
            .config::<candor_notification::Config>(&[
                organisation.clone(),
                (variable, value.to_owned()),
            ])
            .unwrap_err()
            .to_string();
        assert!(error.contains(variable), "{variable}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
        if variable == "DELIVERY_REPORTS_TOKEN" || variable == "SENDGRID_WEBHOOK_PUBLIC_KEY" {
            assert!(!error.contains(value), "{variable} echoed: {error}");
        }
    }

    // The token from a file, as compose and Kubernetes mount it.
    let file =
        std::env::temp_dir().join(format!("delivery-reports-token-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, format!("{REPORT_TOKEN}\n")).unwrap();
    let args = [
        "candor-notification".to_owned(),
        format!("--database-url={}", environment.database.url()),
        format!(
            "--operator-token={}",
            candor_testkit::environment::OPERATOR_TOKEN
        ),
        "--service-token=notification-service-token-0123".to_owned(),
        "--organisation-name=Candor Books".to_owned(),
        "--delivery-reports-addr=127.0.0.1:0".to_owned(),
    ];
    let path = file.clone().into_os_string();
    let config: candor_notification::Config =
        candor_platform::config::try_parse_with_environment(args, |variable| {
            (variable == "DELIVERY_REPORTS_TOKEN_FILE").then(|| path.clone())
        })
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(config.delivery_reports.listen_addr().is_some());
    let shown = format!("{config:?}");
    assert!(!shown.contains(REPORT_TOKEN), "the token is never printed");
}
