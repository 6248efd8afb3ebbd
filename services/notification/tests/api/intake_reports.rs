//! Delivery reports through the intake change what GetDelivery shows: a
//! SENT breach notice becomes BOUNCED or COMPLAINED through each endpoint,
//! with the providers' real-shaped payloads carrying the notice's
//! Message-ID; a repeat is a duplicate, an unknown Message-ID is answered
//! 204 and changes nothing.

use std::time::Duration;

use candor_proto::notification::v1::{
    Delivery, DeliveryReportKind, DeliveryState, GetDeliveryRequest, ListDeliveriesRequest,
};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;

use crate::helpers::*;
use crate::intake_support::*;

const LONG: Duration = Duration::from_secs(60);

const DSN: &str = include_str!("../fixtures/delivery_reports/dsn_postfix_hard.eml");
const DSN_MESSAGE_ID: &str = "0196f3a2-7c1e-7d4b-9a51-2f0c8e4b1d77@books.example";
const DSN_RECIPIENT: &str = "nobody@example.org";
const ARF: &str = include_str!("../fixtures/delivery_reports/arf_abuse.eml");
const ARF_MESSAGE_ID: &str = "0196f3a2-7c1e-7d4b-9a51-2f0c8e4b1d78@books.example";
const ARF_RECIPIENT: &str = "member@example.com";
const SES_BOUNCE: &str = include_str!("../fixtures/delivery_reports/ses_bounce.json");
const SES_COMPLAINT: &str = include_str!("../fixtures/delivery_reports/ses_complaint.json");
const SES_MESSAGE_ID: &str = "custom-message-ID@books.example";

/// A running service with four SENT notices, and what it takes to report
/// on them.
struct Sent {
    intake: IntakeService,
    sns: SnsStandIn,
    sendgrid: SendGridSigner,
    notices: Vec<Delivery>,
    _sink: SmtpSink,
    _environment: TestEnvironment,
}

async fn four_sent_notices() -> Sent {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let sns = SnsStandIn::start().await;
    let sendgrid = SendGridSigner::generate();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.delivery_reports = credentials(&sns, &sendgrid);
    let intake = start_intake(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &accounts(4))).await;
    jobs_reach(environment.database.pool(), &id, "sent", 4).await;
    let mut client = client(&intake.service).await;
    let notices = client
        .list_deliveries(as_operator(ListDeliveriesRequest {
            incident_id: id,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(notices.len(), 4);
    for notice in &notices {
        assert_eq!(notice.state, DeliveryState::Sent as i32);
        assert!(!notice.message_id.is_empty());
    }
    Sent {
        intake,
        sns,
        sendgrid,
        notices,
        _sink: sink,
        _environment: environment,
    }
}

impl Sent {
    /// GetDelivery of `notice` once it is in `state`.
    async fn delivery_in(&self, notice: &Delivery, state: DeliveryState) -> Delivery {
        let client = client(&self.intake.service).await;
        let what = format!("{} {state:?}", notice.delivery_id);
        eventually(LONG, &what, || {
            let mut client = client.clone();
            let request = GetDeliveryRequest {
                delivery_id: notice.delivery_id.clone(),
            };
            async move {
                let delivery = client
                    .get_delivery(as_operator(request))
                    .await
                    .ok()?
                    .into_inner()
                    .delivery?;
                (delivery.state == state as i32).then_some(delivery)
            }
        })
        .await
    }
}

/// `text` about `notice` instead of the fixture's email.
fn about(text: &str, fixture_id: &str, fixture_recipient: &str, notice: &Delivery) -> String {
    text.replace(fixture_id, notice.message_id.trim_matches(['<', '>']))
        .replace(fixture_recipient, &notice.to_address)
}

#[tokio::test]
async fn each_endpoint_turns_a_sent_notice_bounced_or_complained() {
    let sent = four_sent_notices().await;
    let addr = sent.intake.addr;
    let token = bearer();
    let auth = [(token.0, token.1.as_str())];

    // DSN: a hard bounce.
    let dsn = about(DSN, DSN_MESSAGE_ID, DSN_RECIPIENT, &sent.notices[0]);
    let answer = post(addr, "/delivery-reports/dsn", &auth, dsn.as_bytes()).await;
    assert_eq!(answer.status, 204, "{answer:?}");
    let bounced = sent
        .delivery_in(&sent.notices[0], DeliveryState::Bounced)
        .await;
    assert_eq!(bounced.report_kind, DeliveryReportKind::HardBounce as i32);
    assert!(
        bounced.delivery_report.contains("5.1.1"),
        "{}",
        bounced.delivery_report
    );
    // The same DSN again: a duplicate, answered the same.
    let again = post(addr, "/delivery-reports/dsn", &auth, dsn.as_bytes()).await;
    assert_eq!(again.status, 204, "{again:?}");

    // ARF: a complaint.
    let arf = about(ARF, ARF_MESSAGE_ID, ARF_RECIPIENT, &sent.notices[1]);
    let answer = post(addr, "/delivery-reports/arf", &auth, arf.as_bytes()).await;
    assert_eq!(answer.status, 204, "{answer:?}");
    let complained = sent
        .delivery_in(&sent.notices[1], DeliveryState::Complained)
        .await;
    assert_eq!(complained.report_kind, DeliveryReportKind::Complaint as i32);

    // SES through SNS (SignatureVersion 1): a permanent bounce.
    let bounce = about(
        SES_BOUNCE,
        SES_MESSAGE_ID,
        "jane@example.com",
        &sent.notices[2],
    );
    let envelope = sent.sns.envelope("Notification", &bounce, TOPIC_ARN, 1);
    let answer = post(
        addr,
        "/delivery-reports/ses",
        &[("x-amz-sns-message-type", "Notification")],
        &serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(answer.status, 204, "{answer:?}");
    let bounced = sent
        .delivery_in(&sent.notices[2], DeliveryState::Bounced)
        .await;
    assert!(
        bounced.delivery_report.contains("550 5.1.1"),
        "{}",
        bounced.delivery_report
    );

    // SendGrid: a spam report (no smtp-id: the last email to the address).
    let events = serde_json::json!([{
        "email": sent.notices[3].to_address,
        "timestamp": chrono::Utc::now().timestamp(),
        "event": "spamreport",
        "sg_event_id": format!("spam-{}", uuid::Uuid::new_v4()),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
    }]);
    let body = serde_json::to_vec(&events).unwrap();
    let headers = sent.sendgrid.headers(&body, chrono::Utc::now().timestamp());
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = post(addr, "/delivery-reports/sendgrid", &headers, &body).await;
    assert_eq!(answer.status, 204, "{answer:?}");
    sent.delivery_in(&sent.notices[3], DeliveryState::Complained)
        .await;
    sent.intake.service.stop().await.unwrap();
}

#[tokio::test]
async fn ses_complaints_sendgrid_bounces_and_unknown_message_ids() {
    let sent = four_sent_notices().await;
    let addr = sent.intake.addr;

    // SES complaint, SignatureVersion 2.
    let complaint = about(
        SES_COMPLAINT,
        SES_MESSAGE_ID,
        "richard@example.com",
        &sent.notices[0],
    );
    let envelope = sent.sns.envelope("Notification", &complaint, TOPIC_ARN, 2);
    let answer = post(
        addr,
        "/delivery-reports/ses",
        &[],
        &serde_json::to_vec(&envelope).unwrap(),
    )
    .await;
    assert_eq!(answer.status, 204, "{answer:?}");
    sent.delivery_in(&sent.notices[0], DeliveryState::Complained)
        .await;

    // SendGrid hard bounce by smtp-id, among ignored events.
    let events = serde_json::json!([
        {
            "email": sent.notices[1].to_address,
            "timestamp": chrono::Utc::now().timestamp(),
            "smtp-id": sent.notices[1].message_id,
            "event": "delivered",
            "sg_event_id": format!("delivered-{}", uuid::Uuid::new_v4()),
            "response": "250 OK"
        },
        {
            "email": sent.notices[1].to_address,
            "timestamp": chrono::Utc::now().timestamp(),
            "smtp-id": sent.notices[1].message_id,
            "event": "bounce",
            "sg_event_id": format!("bounce-{}", uuid::Uuid::new_v4()),
            "reason": "550 5.1.1 unknown recipient",
            "status": "5.1.1",
            "type": "bounce"
        }
    ]);
    let body = serde_json::to_vec(&events).unwrap();
    let headers = sent.sendgrid.headers(&body, chrono::Utc::now().timestamp());
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = post(addr, "/delivery-reports/sendgrid", &headers, &body).await;
    assert_eq!(answer.status, 204, "{answer:?}");
    let bounced = sent
        .delivery_in(&sent.notices[1], DeliveryState::Bounced)
        .await;
    assert!(
        bounced.delivery_report.contains("unknown recipient"),
        "{}",
        bounced.delivery_report
    );

    // A DSN about an email this service never sent: acknowledged, nothing
    // changes (the provider would otherwise retry it for days).
    let token = bearer();
    let answer = post(
        addr,
        "/delivery-reports/dsn",
        &[(token.0, token.1.as_str())],
        DSN.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 204, "{answer:?}");
    for notice in &sent.notices[2..] {
        sent.delivery_in(notice, DeliveryState::Sent).await;
    }
    sent.intake.service.stop().await.unwrap();
}

#[tokio::test]
async fn with_the_database_away_a_report_is_answered_503_and_recorded_once_back() {
    use candor_testkit::proxy::TcpProxy;
    use secrecy::ExposeSecret as _;

    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let sns = SnsStandIn::start().await;
    let sendgrid = SendGridSigner::generate();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    settings.delivery_reports = credentials(&sns, &sendgrid);
    // The service reaches PostgreSQL through a proxy the test can cut.
    let mut url = url::Url::parse(settings.common.database.database_url.expose_secret()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = TcpProxy::start(upstream.parse().unwrap()).await.unwrap();
    url.set_port(Some(proxy.port())).unwrap();
    settings.common.database.database_url = url.as_str().into();
    settings.common.database.database_acquire_timeout_seconds = 2;
    let intake = start_intake(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &accounts(1))).await;
    let pool = environment.database.pool();
    jobs_reach(pool, &id, "sent", 1).await;
    let (to_address, message_id): (String, String) =
        sqlx::query_as("SELECT to_address, message_id FROM email_jobs WHERE incident_id = $1")
            .bind(&id)
            .fetch_one(pool)
            .await
            .unwrap();
    let notice = Delivery {
        to_address,
        message_id,
        ..Default::default()
    };
    let dsn = about(DSN, DSN_MESSAGE_ID, DSN_RECIPIENT, &notice);
    let token = bearer();
    let auth = [(token.0, token.1.as_str())];

    proxy.cut();
    let answer = post(intake.addr, "/delivery-reports/dsn", &auth, dsn.as_bytes()).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.body.contains("retry later"), "{}", answer.body);

    // The provider's retry, once the database is back, is recorded.
    proxy.restore();
    eventually(LONG, "the retried report recorded", || async {
        let answer = post(intake.addr, "/delivery-reports/dsn", &auth, dsn.as_bytes()).await;
        (answer.status == 204).then_some(())
    })
    .await;
    jobs_reach(pool, &id, "bounced", 1).await;
    intake.service.stop().await.unwrap();
}
