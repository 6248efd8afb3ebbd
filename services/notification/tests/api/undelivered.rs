//! `notification.notice_undelivered`: published through the outbox for a
//! breach notice that FAILED, was SUPPRESSED for its address (when created
//! or when claimed) or for having none, or BOUNCED; never for a complaint
//! nor for a member who deactivated. Members without an email address get
//! a SUPPRESSED notice (NO_EMAIL_ADDRESS) and are counted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use candor_platform::config::AmqpConfig;
use candor_platform::messaging::{Broker, OutgoingMessage, Publisher, QueueSpec, ServiceQueue};
use candor_proto::events::v1::{
    Event, NOTIFICATION_NOTICE_UNDELIVERED, NoticeUndelivered, UndeliveredReason,
};
use candor_proto::notification::v1::{
    DeliveryReportKind, DeliveryState, ListDeliveriesRequest, SuppressionReason,
};
use candor_testkit::database::TestDatabase;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::rabbitmq::TestBroker;
use candor_testkit::smtp::{Refusal, SmtpSink};
use prost::Message as _;

use crate::delivery_reports::{message_id_of, record, report};
use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

/// Takes the NoticeUndelivered messages of `queue` until `count` arrived,
/// then waits `quiet` for any more; by account id.
async fn collect(
    broker: &TestBroker,
    queue: &str,
    count: usize,
    quiet: Duration,
) -> BTreeMap<String, NoticeUndelivered> {
    let deadline = Instant::now() + LONG;
    let mut received = BTreeMap::new();
    let mut quiet_until: Option<Instant> = None;
    loop {
        while let Some(message) = broker.get(queue).await.unwrap() {
            assert_eq!(message.routing_key, NOTIFICATION_NOTICE_UNDELIVERED);
            assert_eq!(
                message.message_type.as_deref(),
                Some("candor.events.v1.NoticeUndelivered")
            );
            let event = NoticeUndelivered::decode(message.body.as_slice()).unwrap();
            event.validate().unwrap();
            let previous = received.insert(event.account_id.clone(), event);
            assert!(previous.is_none(), "announced twice: {previous:?}");
        }
        if received.len() >= count {
            let until = *quiet_until.get_or_insert_with(|| Instant::now() + quiet);
            if Instant::now() >= until {
                return received;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out with {} of {count} announcements",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn undelivered_notices_are_announced_but_complaints_and_deactivated_members_are_not() {
    let environment = TestEnvironment::new().await.unwrap();
    let queue = environment
        .broker
        .declare_queue(&QueueSpec::new(
            "observer",
            [NOTIFICATION_NOTICE_UNDELIVERED],
        ))
        .await
        .unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let client = client(&service).await;
    let pool = environment.database.pool();
    let mut affected = accounts(7);
    // 0: refused for good (FAILED). 1: address suppressed after its notice
    // was queued (SUPPRESSED when claimed). 2: no email address. 3: bounces.
    // 4: complains. 5: deactivated before the batch. 6: address suppressed
    // before the batch (SUPPRESSED when created).
    sink.refuse(&affected[0].email, Refusal::Permanent);
    affected[2].email = String::new();
    affected[2].held_data_classes.clear();
    let incident = incident();
    let id = incident.incident_id.clone();
    publish(&environment, &incident).await;
    publish(&environment, &deactivated(&affected[5].account_id)).await;
    deactivation_recorded(pool, &affected[5].account_id).await;
    sqlx::query("INSERT INTO suppressed_addresses (address, reason) VALUES ($1, 'test: 550')")
        .bind(affected[6].email.to_lowercase())
        .execute(pool)
        .await
        .unwrap();
    // The notices wait for the thread link (600 s) until it is published.
    publish(&environment, &batch(&id, 1, &affected)).await;
    jobs_reach(pool, &id, "queued", 4).await;
    sqlx::query("INSERT INTO suppressed_addresses (address, reason) VALUES ($1, 'test: 550')")
        .bind(affected[1].email.to_lowercase())
        .execute(pool)
        .await
        .unwrap();
    publish(&environment, &thread_opened(&id)).await;
    publish(&environment, &enumeration_completed(&id, 7, 1)).await;
    jobs_reach(pool, &id, "sent", 2).await;
    jobs_reach(pool, &id, "failed", 1).await;

    for (report_id, kind, account) in [
        ("b-3", DeliveryReportKind::HardBounce, &affected[3]),
        ("c-4", DeliveryReportKind::Complaint, &affected[4]),
    ] {
        let mut request = report(report_id, kind);
        request.message_id = message_id_of(pool, &id, account).await;
        record(&client, request).await.unwrap();
    }

    let announced = collect(&environment.broker, &queue, 5, Duration::from_secs(3)).await;
    let reasons: BTreeMap<&str, UndeliveredReason> = announced
        .values()
        .map(|event| {
            assert_eq!(event.incident_id, id);
            assert!(event.occurred_at.is_some());
            (event.account_id.as_str(), event.reason())
        })
        .collect();
    let expected: BTreeMap<&str, UndeliveredReason> = [
        (affected[0].account_id.as_str(), UndeliveredReason::Failed),
        (
            affected[1].account_id.as_str(),
            UndeliveredReason::Suppressed,
        ),
        (
            affected[2].account_id.as_str(),
            UndeliveredReason::NoEmailAddress,
        ),
        (affected[3].account_id.as_str(), UndeliveredReason::Bounced),
        (
            affected[6].account_id.as_str(),
            UndeliveredReason::Suppressed,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(reasons, expected);

    // The member without an address: SUPPRESSED, no email, counted.
    let listed = client
        .clone()
        .list_deliveries(as_operator(ListDeliveriesRequest {
            account_id: affected[2].account_id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, DeliveryState::Suppressed as i32);
    assert_eq!(
        listed[0].suppression_reason,
        SuppressionReason::NoEmailAddress as i32
    );
    assert_eq!(listed[0].to_address, "");
    let progress = progress_when(&client, &id, LONG, "settled", |progress| progress.settled).await;
    assert_eq!(progress.no_email_address, 1);
    assert_eq!(progress.suppressed, 4);
    assert_eq!(
        (
            progress.sent,
            progress.failed,
            progress.bounced,
            progress.complained
        ),
        (0, 1, 1, 1)
    );
    assert_eq!(sink.messages().len(), 2, "the notices of 3 and 4 only");
}

/// Publishes `event` as the broker user of `config`, as its owner does.
async fn publish_as<E: Event>(config: &AmqpConfig, event: &E) {
    let broker = Broker::connect(config).await.unwrap();
    Publisher::new(broker.clone())
        .publish(OutgoingMessage::from_protobuf(E::ROUTING_KEY, event))
        .await
        .unwrap();
    broker.close().await;
}

#[tokio::test]
async fn the_notification_broker_user_may_publish_notice_undelivered() {
    // Per-test broker users with the generated permissions: each service
    // publishes only the routing keys it owns, as itself.
    let environment = TestEnvironment {
        database: TestDatabase::create().await.unwrap(),
        broker: TestBroker::with_users().await.unwrap(),
    };
    let broker = &environment.broker;
    let queue = broker
        .declare_queue(&QueueSpec::new(
            "observer",
            [NOTIFICATION_NOTICE_UNDELIVERED],
        ))
        .await
        .unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.common.amqp = broker.service_config(ServiceQueue::Notification);
    let _service = start(settings).await;
    let mut affected = accounts(1);
    affected[0].email = String::new();
    affected[0].held_data_classes.clear();
    let incident = incident();
    let id = incident.incident_id.clone();
    publish_as(&broker.operator_config(), &incident).await;
    let account = broker.service_config(ServiceQueue::Account);
    publish_as(&account, &batch(&id, 1, &affected)).await;

    let announced = collect(broker, &queue, 1, Duration::from_millis(500)).await;
    let event = &announced[&affected[0].account_id];
    assert_eq!(event.reason(), UndeliveredReason::NoEmailAddress);
    let published: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM candor_outbox WHERE published_at IS NOT NULL AND routing_key = $1",
    )
    .bind(NOTIFICATION_NOTICE_UNDELIVERED)
    .fetch_one(environment.database.pool())
    .await
    .unwrap();
    assert_eq!(published, 1, "confirmed by the broker");
}
