//! Members post and reply; the limits a real forum needs.

use candor_proto::forum::v1::*;

use crate::support::forum::{Options, TestForum, as_caller, operator};

#[tokio::test]
async fn members_start_threads_and_reply_to_posts() {
    let forum = TestForum::start().await;
    let ann = forum.accounts.member("Ann");
    let bob = forum.accounts.member("Bob");
    let boards = forum
        .client()
        .list_boards(ListBoardsRequest {})
        .await
        .unwrap()
        .into_inner()
        .boards;
    let names: Vec<(&str, bool)> = boards
        .iter()
        .map(|board| (board.board_id.as_str(), board.staff_only_threads))
        .collect();
    assert_eq!(names, [("announcements", true), ("talk", false)]);

    let created = forum
        .create_thread(
            &ann.token,
            "talk",
            "  Reading lists  ",
            "What are you *reading*?",
        )
        .await
        .unwrap();
    let thread = created.thread.unwrap();
    let first = created.first_post.unwrap();
    assert_eq!(thread.title, "Reading lists");
    assert_eq!(thread.author.clone().unwrap().display_name, "Ann");
    assert_eq!(thread.author.unwrap().kind(), AuthorKind::Member);
    assert_eq!(
        first.body, "What are you *reading*?",
        "Markdown stored as written"
    );

    let reply = forum
        .reply(
            &bob.token,
            &thread.thread_id,
            "Dune, again.",
            &first.post_id,
        )
        .await
        .unwrap();
    assert_eq!(reply.in_reply_to_post_id, first.post_id);
    assert_eq!(reply.author.unwrap().display_name, "Bob");

    let posts = forum.all_posts(&thread.thread_id).await;
    let bodies: Vec<&str> = posts.iter().map(|post| post.body.as_str()).collect();
    assert_eq!(bodies, ["What are you *reading*?", "Dune, again."]);
    let thread = forum
        .client()
        .get_thread(GetThreadRequest {
            thread_id: thread.thread_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    assert_eq!(thread.post_count, 2);

    // A reply may only reference a post of the same thread.
    let (other_thread, other_first) = forum.talk_thread(&bob, "Elsewhere").await;
    let status = forum
        .reply(&ann.token, &thread.thread_id, "wrong thread", &other_first)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_ne!(other_thread, thread.thread_id);
}

#[tokio::test]
async fn missing_or_bad_sessions_and_missing_roles_are_refused() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Mia");
    let (thread_id, _) = forum.talk_thread(&member, "Hello").await;

    let mut client = forum.client();
    let status = client
        .create_post(CreatePostRequest {
            thread_id: thread_id.clone(),
            body: "no token".to_owned(),
            ..CreatePostRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let status = forum
        .reply("not-a-session", &thread_id, "bad token", "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let status = forum
        .create_thread(&member.token, "announcements", "News", "I am not staff")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = client
        .pin_thread(as_caller(
            &member.token,
            PinThreadRequest {
                thread_id: thread_id.clone(),
                pinned: true,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = client
        .list_canned_replies(as_caller(&member.token, ListCannedRepliesRequest {}))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    // The operator credential acts as the staff system account.
    let created = client
        .create_thread(operator(CreateThreadRequest {
            board_id: "announcements".to_owned(),
            title: "Maintenance".to_owned(),
            body: "Tonight at 22:00 UTC.".to_owned(),
            request_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        created.thread.unwrap().author.unwrap().kind(),
        AuthorKind::System
    );
}

#[tokio::test]
async fn sessions_are_validated_once_then_cached() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Cache Carl");
    let (thread_id, _) = forum.talk_thread(&member, "Cached").await;
    for index in 0..3 {
        forum
            .reply(&member.token, &thread_id, &format!("post {index}"), "")
            .await
            .unwrap();
    }
    assert_eq!(forum.accounts.validations(), 1);
}

#[tokio::test]
async fn a_revoked_session_is_refused_within_a_second() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Revoked Rita");
    let (thread_id, _) = forum.talk_thread(&member, "Before logout").await;
    forum.accounts.revoke(&member);
    let revoked_at = std::time::Instant::now();
    let mut attempt = 0;
    let refused = loop {
        attempt += 1;
        match forum
            .reply(
                &member.token,
                &thread_id,
                &format!("still here? {attempt}"),
                "",
            )
            .await
        {
            Err(status) => break status,
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() < std::time::Duration::from_millis(1100),
                    "a revoked session was accepted {:?} after revocation",
                    revoked_at.elapsed()
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    assert!(revoked_at.elapsed() <= std::time::Duration::from_millis(1100));
}

#[tokio::test]
async fn titles_and_bodies_are_bounded_as_sent_and_refuse_control_characters() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Ctl");
    let status = forum
        .create_thread(&member.token, "talk", "Title\r\nX-Injected: yes", "body")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("title: must be a single line"),
        "{}",
        status.message()
    );
    let padded = format!("{}body{}", " ".repeat(10_000), " ".repeat(10_000));
    let status = forum
        .create_thread(&member.token, "talk", "Padded", &padded)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("body: must be at most 20000"),
        "{}",
        status.message()
    );
    let status = forum
        .create_thread(&member.token, "talk", "Escape", "a \u{1b}[31m red b")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("body: must not contain control"),
        "{}",
        status.message()
    );
    let (_, first_post) = forum
        .create_thread(
            &member.token,
            "talk",
            "  Trimmed  ",
            "  line one\r\nline two  ",
        )
        .await
        .map(|created| (created.thread.unwrap(), created.first_post.unwrap()))
        .unwrap();
    assert_eq!(
        first_post.body, "line one\nline two",
        "what is stored is what was checked"
    );
}

#[tokio::test]
async fn limits_bound_titles_and_bodies_and_refuse_duplicates() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Lim");
    let status = forum
        .create_thread(&member.token, "talk", &"t".repeat(201), "body")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("title"),
        "{}",
        status.message()
    );
    let status = forum
        .create_thread(&member.token, "talk", "Title", "   ")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().starts_with("body"), "{}", status.message());
    let status = forum
        .create_thread(&member.token, "no-such-board", "Title", "Body")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);

    let (thread_id, _) = forum.talk_thread(&member, "Limits").await;
    let status = forum
        .reply(&member.token, &thread_id, &"x".repeat(20_001), "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    forum
        .reply(&member.token, &thread_id, "Same words", "")
        .await
        .unwrap();
    let status = forum
        .reply(&member.token, &thread_id, "Same words", "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists);

    // A retry with the same request id is not a duplicate: it returns the original.
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut posted = Vec::new();
    for _ in 0..2 {
        let post = forum
            .client()
            .create_post(as_caller(
                &member.token,
                CreatePostRequest {
                    thread_id: thread_id.clone(),
                    body: "Sent twice by a flaky network".to_owned(),
                    in_reply_to_post_id: String::new(),
                    request_id: request_id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .post
            .unwrap();
        posted.push(post.post_id);
    }
    assert_eq!(posted[0], posted[1]);
    assert_eq!(forum.all_posts(&thread_id).await.len(), 3);
}

#[tokio::test]
async fn members_are_rate_limited_with_retry_after_and_staff_are_not() {
    let forum = TestForum::start_with(Options {
        post_interval_seconds: 3600,
    })
    .await;
    let member = forum.accounts.member("Speedy");
    let staff = forum.accounts.staff("Sam Staff");
    let (thread_id, _) = forum.talk_thread(&member, "Fast").await;
    let status = forum
        .reply(&member.token, &thread_id, "too soon", "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let retry_after: u64 = status
        .metadata()
        .get("retry-after")
        .expect("retry-after metadata")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=3600).contains(&retry_after),
        "retry-after {retry_after}"
    );

    for index in 0..3 {
        forum
            .reply(
                &staff.token,
                &thread_id,
                &format!("staff answer {index}"),
                "",
            )
            .await
            .unwrap();
    }
}
