//! `candorctl incident report` for the regulator, against the four real
//! services: a member whose notice bounced and a member without an address
//! are told in the product, one of them acknowledges; the report's regulator
//! view counts every channel and states the 72-hour clock, and `--csv`
//! lists each member's outcome per channel without addresses.

use std::time::Duration;

use candor_e2e::stack::Stack;
use candor_platform::auth::OutgoingInterceptor;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::account::v1::{
    AcknowledgeNoticeRequest, ImportRecord, ListNoticesRequest, LoginRequest, login_response,
};
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_proto::notification::v1::{
    DeliveryReportKind, DeliveryState, ListDeliveriesRequest, RecordDeliveryReportRequest,
};
use candor_testkit::poll::eventually;
use candorctl::commands::accounts::{seed, stream};

use crate::{candorctl_off_runtime as run, repo_path, stack_env, text};

const INCIDENT: &str = "cli-regulator";
const MEMBERS: u64 = 8;

fn operator() -> OutgoingInterceptor {
    OutgoingInterceptor::with_token(&candor_testkit::environment::OPERATOR_TOKEN.into()).unwrap()
}

/// Eight members who all joined before the cutoff; the last has no address.
fn members(domain: &str) -> Vec<ImportRecord> {
    let cutoff = candorctl::notice::file::parse_time("2011-11-01").unwrap();
    seed::members(MEMBERS, cutoff, 1.0, domain.to_owned(), 7)
        .enumerate()
        .map(|(index, mut member)| {
            if index as u64 == MEMBERS - 1 {
                member.email.clear();
            }
            member
        })
        .collect()
}

async fn session_of(stack: &Stack, email: &str) -> (String, u32) {
    let mut accounts =
        AccountServiceClient::new(stack.channel(&stack.endpoints.account_grpc_url).unwrap());
    let response = accounts
        .login(LoginRequest {
            email: email.to_owned(),
            password: seed::DEMO_PASSWORD.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    match response.result.unwrap() {
        login_response::Result::Session(session) => {
            (session.session_token, response.pending_notice_count)
        }
        other => panic!("expected a session, got {other:?}"),
    }
}

fn with_session<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_regulator_sees_who_was_reached_by_which_channel_and_when() {
    candor_testkit::tracing::init();
    let stack = Stack::in_process().await.unwrap();
    let env = stack_env(&stack);
    let domain = "regulator.readers.example";
    let members = members(domain);
    let summary = stream::import(&stack.endpoints, members.clone().into_iter(), None)
        .await
        .unwrap();
    assert_eq!(summary.imported, MEMBERS);

    // Reported with no password change, so members can still sign in.
    let reported = run(
        &[
            "breach",
            "report",
            "--file",
            &repo_path("deploy/examples/breach.toml"),
            "--incident-id",
            INCIDENT,
            "--password-reset-scope",
            "none",
            "--yes",
        ],
        &env,
    )
    .await;
    assert_eq!(
        reported.status.code(),
        Some(0),
        "{}",
        text(&reported.stderr)
    );

    // Every notice settles: seven sent, one member without an address.
    let mut notifications = NotificationServiceClient::with_interceptor(
        stack
            .channel(&stack.endpoints.notification_grpc_url)
            .unwrap(),
        operator(),
    );
    let sent = eventually(Duration::from_secs(120), "seven notices sent", || {
        let mut notifications = notifications.clone();
        async move {
            let page = notifications
                .list_deliveries(ListDeliveriesRequest {
                    incident_id: INCIDENT.to_owned(),
                    state: DeliveryState::Sent as i32,
                    ..ListDeliveriesRequest::default()
                })
                .await
                .ok()?
                .into_inner();
            (page.deliveries.len() == 7).then_some(page.deliveries)
        }
    })
    .await;

    // The provider reports the first member's notice bounced.
    let bounced = &sent[0];
    let recorded = notifications
        .record_delivery_report(RecordDeliveryReportRequest {
            source: "postmaster-tool".to_owned(),
            report_id: "bounce-1".to_owned(),
            kind: DeliveryReportKind::HardBounce as i32,
            message_id: bounced.message_id.clone(),
            recipient: bounced.to_address.clone(),
            detail: "smtp; 550 5.1.1 user unknown".to_owned(),
            occurred_at: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(recorded.delivery.unwrap().state(), DeliveryState::Bounced);

    // The bounced member sees the notice at sign-in and acknowledges it.
    let (token, pending) = eventually(
        Duration::from_secs(60),
        "the bounced member's in-app notice",
        || async {
            let (token, pending) = session_of(&stack, &bounced.to_address).await;
            (pending == 1).then_some((token, pending))
        },
    )
    .await;
    assert_eq!(pending, 1);
    let mut accounts =
        AccountServiceClient::new(stack.channel(&stack.endpoints.account_grpc_url).unwrap());
    let notices = accounts
        .list_notices(with_session(ListNoticesRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .notices;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].incident_id, INCIDENT);
    accounts
        .acknowledge_notice(with_session(
            AcknowledgeNoticeRequest {
                incident_id: INCIDENT.to_owned(),
            },
            &token,
        ))
        .await
        .unwrap();

    // The report: six delivered, one bounced, one without an address; two
    // in-app notices, one acknowledged; seven members reached.
    let report = run(&["incident", "report", INCIDENT, "-o", "json"], &env).await;
    let json: serde_json::Value = serde_json::from_slice(&report.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&report.stderr)));
    let reach = &json["regulator"]["reach"];
    assert_eq!(reach["affected"], 8, "{reach}");
    assert_eq!(reach["emails_delivered"], 6, "{reach}");
    assert_eq!(reach["emails_bounced"], 1, "{reach}");
    assert_eq!(reach["no_email_address"], 1, "{reach}");
    assert_eq!(reach["in_app_raised"], 2, "{reach}");
    assert_eq!(reach["in_app_acknowledged"], 1, "{reach}");
    assert_eq!(reach["members_reached"], 7, "{reach}");
    assert_eq!(reach["members_not_reached"], 1, "{reach}");
    assert!(reach["last_reached_at"].is_string(), "{reach}");
    assert!(
        reach["public_communication_url"]
            .as_str()
            .is_some_and(|url| url.contains("/forum/threads/")),
        "{reach}"
    );
    let clock = &json["regulator"]["notification_clock"];
    assert_eq!(clock["status"], "on_time", "{clock}");
    assert_eq!(clock["authority_notified_at"], "2025-05-22T09:30:00Z");
    assert_eq!(clock["delay_hours"], 40.8);

    let markdown = run(&["incident", "report", INCIDENT], &env).await;
    let markdown = text(&markdown.stdout);
    assert!(markdown.contains("## For the regulator"), "{markdown}");
    assert!(
        markdown.contains("Members reached (GDPR Art. 34): **7 of 8**"),
        "{markdown}"
    );

    // The CSV: one email row per notice, one in-app row per notice kept in
    // the product; account ids only.
    let csv_path =
        std::env::temp_dir().join(format!("candorctl-{}-outcomes.csv", std::process::id()));
    let exported = run(
        &[
            "incident",
            "report",
            INCIDENT,
            "--csv",
            csv_path.to_str().unwrap(),
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    assert!(
        text(&exported.stderr).contains("8 email and 2 in-app outcomes written"),
        "{}",
        text(&exported.stderr)
    );
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("account_id,channel,outcome,time"));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let count = |channel: &str, outcome: &str| {
        rows.iter()
            .filter(|row| row[1] == channel && row[2] == outcome)
            .count()
    };
    assert_eq!(count("email", "delivered"), 6, "{csv}");
    assert_eq!(count("email", "bounced"), 1, "{csv}");
    assert_eq!(count("email", "no_email_address"), 1, "{csv}");
    assert_eq!(count("in_app", "acknowledged"), 1, "{csv}");
    assert_eq!(count("in_app", "not_acknowledged"), 1, "{csv}");
    assert!(
        rows.iter().all(|row| row.len() == 4
            && uuid::Uuid::parse_str(row[0]).is_ok()
            && !row[3].is_empty()),
        "{csv}"
    );
    assert!(!csv.contains('@'), "no address in the export: {csv}");
    std::fs::remove_file(&csv_path).ok();

    stack.stop().await.unwrap();
}
