//! The incident thread: opened once per incident from `breach.reported`,
//! announced through the outbox, and deactivated authors become former
//! members.

use std::time::{Duration, Instant};

use candor_platform::messaging::QueueSpec;
use candor_proto::events::v1::{
    AccountDeactivated, FORUM_INCIDENT_THREAD_OPENED, IncidentThreadOpened,
};
use candor_proto::forum::v1::*;
use candor_proto::prost::Message;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

use crate::support::breach;
use crate::support::forum::{PUBLIC_BASE_URL, TestForum};

#[tokio::test]
async fn the_incident_thread_opens_once_under_duplicate_delivery_and_states_the_notice() {
    let forum = TestForum::start().await;
    let listener = forum
        .environment
        .broker
        .declare_queue(&QueueSpec::new("opened", [FORUM_INCIDENT_THREAD_OPENED]))
        .await
        .unwrap();
    let breach = breach::example("2025-05-member-backup");
    // Three deliveries of the same incident, two of them back to back so the
    // consumer handles them concurrently.
    forum.publish_breach(&breach).await;
    forum.publish_breach(&breach).await;
    let thread = forum
        .wait_for_incident_thread("2025-05-member-backup")
        .await;
    forum.publish_breach(&breach).await;

    assert!(thread.pinned);
    assert_eq!(thread.board_id, "announcements");
    assert_eq!(thread.title, breach.title);
    assert_eq!(thread.incident_id, "2025-05-member-backup");
    let author = thread.author.clone().unwrap();
    assert_eq!(author.kind(), AuthorKind::System);
    assert_eq!(
        author.account_id,
        candor_forum::SYSTEM_ACCOUNT_ID.to_string()
    );
    let url = format!("{PUBLIC_BASE_URL}/forum/threads/{}", thread.thread_id);
    assert_eq!(thread.url, url);

    let posts = forum.all_posts(&thread.thread_id).await;
    let notice = &posts[0].body;
    for expected in [
        "## What happened",
        "leaked administrator key",
        "14 May 2025, 02:10 UTC",
        "20 May 2025, 16:45 UTC",
        "## What information was involved",
        "salted SHA\\-1 password hashes",
        "email addresses",
        "Revoked the leaked key",
        "## What you should do",
        "reset-password",
        "we will never ask for it",
        "lifetime membership \\(worth $25\\)",
        "privacy@candor\\.example",
        &format!("{PUBLIC_BASE_URL}/account/deactivate"),
    ] {
        assert!(
            notice.contains(expected),
            "notice lacks {expected:?}:\n{notice}"
        );
    }

    // The announcement reaches RabbitMQ with the thread and its public URL.
    let deadline = Instant::now() + Duration::from_secs(60);
    let event = loop {
        if let Some(message) = forum.environment.broker.get(&listener).await.unwrap() {
            break IncidentThreadOpened::decode(message.body.as_slice()).unwrap();
        }
        assert!(Instant::now() < deadline, "no forum.incident_thread_opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(event.incident_id, "2025-05-member-backup");
    assert_eq!(event.thread_id, thread.thread_id);
    assert_eq!(event.url, url);

    // Once the consumer took every delivery, stopping lets in-flight ones
    // finish: afterwards none is left or requeued in the forum queue.
    let environment_url = forum.environment.database.url().to_owned();
    let forum_queue = forum.environment.broker.topology().queue_name("forum");
    let channel = forum.environment.broker.channel().await.unwrap();
    let ready = || async {
        channel
            .queue_declare(
                forum_queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the forum never took its messages"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    forum.service.stop().await.unwrap();
    assert_eq!(ready().await, 0, "every delivery was handled and acked");
    let pool = sqlx::PgPool::connect(&environment_url).await.unwrap();
    let threads: i64 = sqlx::query_scalar("SELECT count(*) FROM threads WHERE incident_id = $1")
        .bind("2025-05-member-backup")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(threads, 1);
    let announced: i64 =
        sqlx::query_scalar("SELECT count(*) FROM candor_outbox WHERE routing_key = $1")
            .bind(FORUM_INCIDENT_THREAD_OPENED)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(announced, 1, "announced once");
}

#[tokio::test]
async fn an_invalid_or_conflicting_breach_is_dead_lettered_and_opens_nothing() {
    let forum = TestForum::start().await;
    let mut invalid = breach::example("bad-incident");
    invalid.title = String::new();
    forum.publish_breach(&invalid).await;
    let dead = forum
        .environment
        .broker
        .wait_for_dead_letters("forum", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(dead[0].header("x-candor-error").unwrap().contains("title"));

    let original = breach::example("incident-a");
    forum.publish_breach(&original).await;
    forum.wait_for_incident_thread("incident-a").await;
    let mut conflicting = original.clone();
    conflicting.title = "Another title".to_owned();
    forum.publish_breach(&conflicting).await;
    let dead = forum
        .environment
        .broker
        .wait_for_dead_letters("forum", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        dead[0]
            .header("x-candor-error")
            .unwrap()
            .contains("different content")
    );

    let status = forum
        .client()
        .get_incident_thread(GetIncidentThreadRequest {
            incident_id: "bad-incident".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let thread = forum.wait_for_incident_thread("incident-a").await;
    assert_eq!(thread.title, original.title);
}

#[tokio::test]
async fn deactivated_authors_are_shown_as_former_members() {
    let forum = TestForum::start().await;
    let leaving = forum.accounts.member("Leaving Larry");
    let staying = forum.accounts.member("Staying Stella");
    let (thread_id, first_post_id) = forum.talk_thread(&leaving, "Goodbye").await;
    forum
        .reply(
            &staying.token,
            thread_id.as_str(),
            "Sorry to see you go",
            &first_post_id,
        )
        .await
        .unwrap();

    forum
        .publish(&AccountDeactivated {
            account_id: leaving.account_id.to_string(),
            deactivated_at: Some(std::time::SystemTime::now().into()),
        })
        .await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let posts = loop {
        let posts = forum.all_posts(&thread_id).await;
        let author = posts[0].author.clone().unwrap();
        if author.kind() == AuthorKind::FormerMember {
            break posts;
        }
        assert!(Instant::now() < deadline, "author still {author:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let former = posts[0].author.clone().unwrap();
    assert_eq!(former.display_name, "");
    assert_eq!(former.account_id, leaving.account_id.to_string());
    assert_eq!(posts[0].body, "first post of Goodbye", "the post remains");
    let other = posts[1].author.clone().unwrap();
    assert_eq!(other.kind(), AuthorKind::Member);
    assert_eq!(other.display_name, "Staying Stella");

    let thread = forum
        .client()
        .get_thread(GetThreadRequest {
            thread_id: thread_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    assert_eq!(thread.author.unwrap().kind(), AuthorKind::FormerMember);

    // The erased name is gone from the database, not just hidden.
    let pool = sqlx::PgPool::connect(forum.environment.database.url())
        .await
        .unwrap();
    let name: Option<String> =
        sqlx::query_scalar("SELECT display_name FROM authors WHERE account_id = $1")
            .bind(leaving.account_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(name, None);
}
