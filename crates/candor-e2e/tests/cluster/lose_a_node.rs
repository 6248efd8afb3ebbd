//! One breach of 20,000 members, a RabbitMQ node lost half way, every
//! promised effect exactly once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use candor_e2e::stack::{Stack, StackOptions};
use candor_platform::messaging::ServiceQueue;
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use candor_proto::forum::v1::{GetIncidentThreadRequest, ListThreadsRequest};
use candor_proto::membership::v1::GetIncidentProgressRequest;
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_testkit::metrics::scrape;
use candor_testkit::poll::eventually;
use candor_testkit::rabbitmq_cluster::RabbitCluster;
use candorctl::commands::accounts::{seed, stream};
use candorctl::commands::breach;
use candorctl::commands::incident::progress::IncidentSnapshot;
use candorctl::notice::{self, NoticeFlags};
use tokio::sync::Mutex;

/// Affected members: every one of them joined before the cutoff.
const MEMBERS: u64 = 20_000;
/// One cluster (three Erlang VMs) and one stack at a time on 2 cores.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Which node the test takes away half way.
#[derive(Debug, Clone, Copy)]
enum Lost {
    /// The node leading the services' quorum queues (they were declared
    /// through it), stopped in order (SIGTERM, as `docker stop`). The
    /// services are connected to it too, so they fail over as well.
    QueueLeader,
    /// The node the services are connected to, which leads none of their
    /// queues, killed (SIGKILL) as a crashed machine.
    ServicesNode,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_breach_survives_losing_the_node_that_leads_the_queues() {
    breach_losing(Lost::QueueLeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_breach_survives_losing_the_node_the_services_are_connected_to() {
    breach_losing(Lost::ServicesNode).await;
}

/// The node each service's connection is on, by service name (`users`
/// maps each service's broker user to its name).
async fn service_nodes(
    cluster: &RabbitCluster,
    users: &BTreeMap<String, &'static str>,
) -> BTreeMap<&'static str, usize> {
    cluster
        .connections()
        .await
        .unwrap()
        .iter()
        .filter_map(|connection| Some((*users.get(&connection.user)?, connection.node)))
        .collect()
}

/// Waits until membership has credited half the members, the first
/// consumer to get there (the notices follow at the SMTP sink's pace), so
/// the node goes while batches are still being consumed. Asks one client
/// every 10 ms: the credits of a 500-account batch land at once, and a
/// snapshot of all four services would be too slow to see the middle.
/// Gives (credits granted, batches applied) at that moment.
async fn half_way(stack: &Stack, incident_id: &str) -> (u64, u32) {
    let channel = stack
        .endpoints
        .operator_channel(&stack.endpoints.membership_grpc_url)
        .unwrap();
    let mut membership = MembershipServiceClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let progress = membership
            .get_incident_progress(GetIncidentProgressRequest {
                incident_id: incident_id.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner);
        if let Ok(progress) = progress
            && progress.credited >= MEMBERS / 2
        {
            return (progress.credited, progress.batches_processed);
        }
        assert!(
            Instant::now() < deadline,
            "half the members not credited after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn example_notice() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/breach.toml")
}

async fn breach_losing(lost: Lost) {
    candor_testkit::tracing::init();
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let started = Instant::now();
    let cluster = RabbitCluster::start().await.unwrap();
    // The topology is created through node 0 (its management API), so node
    // 0 leads every queue. The services connect to the first node of their
    // URL: node 0 when losing the leader, node 1 when losing theirs.
    let order: [usize; 3] = match lost {
        Lost::QueueLeader => [0, 1, 2],
        Lost::ServicesNode => [1, 2, 0],
    };
    let broker = cluster.test_broker(&order).await.unwrap();
    let stack = Stack::in_process_with(StackOptions {
        broker: Some(broker),
        notification_flags: vec!["--send-rate-per-second=0".to_owned()],
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let broker = stack.broker().unwrap();
    let users: BTreeMap<String, &'static str> = ServiceQueue::ALL
        .into_iter()
        .map(|service| (broker.service_user(service), service.name()))
        .collect();
    let notification_queue = broker
        .topology()
        .queue_name(ServiceQueue::Notification.name());
    let cluster_ready = started.elapsed();

    // Where everything is before the breach.
    let leader = cluster.leader_of(&notification_queue).await.unwrap();
    let connected = eventually(
        Duration::from_secs(30),
        "every service connected",
        || async {
            let nodes = service_nodes(&cluster, &users).await;
            (nodes.len() == users.len()).then_some(nodes)
        },
    )
    .await;
    assert!(
        connected.values().all(|node| *node == order[0]),
        "every service connects to the first node of its URL: {connected:?}"
    );
    let target = match lost {
        Lost::QueueLeader => leader,
        Lost::ServicesNode => {
            assert_ne!(
                leader, order[0],
                "the services' node must not lead their queues, or this run loses the leader too"
            );
            order[0]
        }
    };

    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let incident_id = format!("cluster-{run}");
    let domain = format!("cluster-{run}.readers.example");
    let cutoff = candorctl::notice::file::parse_time("2011-11-01").unwrap();
    let members: Vec<_> = seed::members(MEMBERS, cutoff, 1.0, domain.clone(), 17).collect();
    let imported = stream::import(&stack.endpoints, members.clone().into_iter(), None)
        .await
        .unwrap();
    assert_eq!(imported.imported, MEMBERS, "{:?}", imported.rejections);

    let flags = NoticeFlags {
        incident_id: Some(incident_id.clone()),
        ..NoticeFlags::default()
    };
    let event = notice::load(Some(&example_notice()), &flags, SystemTime::now()).unwrap();
    let reported = Instant::now();
    breach::publish(&event, &stack.endpoints).await.unwrap();

    // Half way: half the members credited.
    let (credited, batches) = half_way(&stack, &incident_id).await;
    let lost_at = reported.elapsed();
    match lost {
        Lost::QueueLeader => cluster.stop_node(target).await.unwrap(),
        Lost::ServicesNode => cluster.kill_node(target).await.unwrap(),
    }
    eprintln!(
        "cluster run {lost:?}: node {target} lost {:.1} s after the breach, {credited} of {MEMBERS} credited ({batches} batches applied)",
        lost_at.as_secs_f64(),
    );

    let snapshot = eventually(
        Duration::from_secs(300),
        "every channel complete",
        || async {
            let snapshot = IncidentSnapshot::fetch(&stack.endpoints, &incident_id).await;
            snapshot.complete().then_some(snapshot)
        },
    )
    .await;
    let completed = reported.elapsed();

    // Every service consumes again, from a node still up; the queues have
    // a leader on one.
    let running = cluster.running_nodes().await.unwrap();
    assert!(
        !running.contains(&target),
        "node {target} is down: {running:?}"
    );
    assert_eq!(running.len(), 2, "{running:?}");
    let moved = eventually(
        Duration::from_secs(60),
        "every service on a live node",
        || async {
            let nodes = service_nodes(&cluster, &users).await;
            (nodes.len() == users.len() && nodes.values().all(|node| running.contains(node)))
                .then_some(nodes)
        },
    )
    .await;
    let new_leader = cluster.leader_of(&notification_queue).await.unwrap();
    assert_ne!(new_leader, target, "the queue has a leader on a live node");
    for service in ServiceQueue::ALL {
        let addr = stack.metrics_addr(service).unwrap();
        eventually(
            Duration::from_secs(60),
            &format!("{} consuming again", service.name()),
            || async {
                let scrape = scrape(addr).await.ok()?;
                let gauges: Vec<f64> = scrape
                    .samples("candor_consumer_connected")
                    .map(|sample| sample.value)
                    .collect();
                (!gauges.is_empty() && gauges.iter().all(|value| *value == 1.0)).then_some(())
            },
        )
        .await;
    }

    // Progress counts exact.
    let account = snapshot.account.as_ref().unwrap();
    assert_eq!(account.affected_accounts, MEMBERS);
    assert_eq!(account.batches_published, account.batch_count);
    let notification = snapshot.notification.as_ref().unwrap();
    assert_eq!(notification.expected_total, MEMBERS);
    assert_eq!(notification.sent, MEMBERS);
    assert_eq!(notification.failed, 0);
    assert_eq!(
        notification.possibly_resent, 0,
        "no notice was possibly sent twice"
    );
    let membership = snapshot.membership.as_ref().unwrap();
    assert_eq!(membership.expected_total, MEMBERS);
    assert_eq!(membership.credited + membership.already_lifetime, MEMBERS);
    assert_eq!(membership.batches_processed, account.batch_count);

    // One notice per member, to exactly the members.
    let mut per_member: BTreeMap<String, usize> = BTreeMap::new();
    for message in stack.mailbox.messages().await.unwrap() {
        for to in &message.to {
            if to.ends_with(&format!("@{domain}")) {
                *per_member.entry(to.to_ascii_lowercase()).or_default() += 1;
            }
        }
    }
    assert_eq!(
        per_member.len() as u64,
        MEMBERS,
        "a notice reached every member"
    );
    let doubled: Vec<_> = per_member.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        doubled.is_empty(),
        "members notified twice: {:?}",
        &doubled[..doubled.len().min(10)]
    );
    assert!(
        members
            .iter()
            .all(|member| per_member.contains_key(&member.email.to_ascii_lowercase())),
        "the notices went to the imported members"
    );

    // One thread for the incident.
    let channel = stack.channel(&stack.endpoints.forum_grpc_url).unwrap();
    let mut forum = ForumServiceClient::new(channel);
    let thread = forum
        .get_incident_thread(GetIncidentThreadRequest {
            incident_id: incident_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    let listed = forum
        .list_threads(ListThreadsRequest {
            board_id: thread.board_id.clone(),
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .threads;
    let incident_threads = listed
        .iter()
        .filter(|listed| listed.incident_id == incident_id)
        .count();
    assert_eq!(incident_threads, 1, "one thread for the incident");

    eprintln!(
        "cluster run {lost:?}: cluster and stack ready after {:.1} s, breach complete {:.1} s after it was reported (node lost at {:.1} s); services were on {connected:?}, now on {moved:?}; notification queue leader {leader} -> {new_leader}; {:.1} s in all",
        cluster_ready.as_secs_f64(),
        completed.as_secs_f64(),
        lost_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    stack.stop().await.unwrap();
}
