//! Staff pin, lock and answer with canned replies; authors and staff edit
//! and delete.

use std::collections::HashMap;

use candor_proto::forum::v1::*;

use crate::support::forum::{PUBLIC_BASE_URL, TestForum, as_caller};

#[tokio::test]
async fn staff_pin_and_lock_threads_and_a_locked_thread_refuses_posts() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Mo");
    let staff = forum.accounts.staff("Sia");
    let (old_thread, _) = forum.talk_thread(&member, "Old").await;
    let (new_thread, _) = forum.talk_thread(&member, "New").await;

    let pinned = forum
        .client()
        .pin_thread(as_caller(
            &staff.token,
            PinThreadRequest {
                thread_id: old_thread.clone(),
                pinned: true,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    assert!(pinned.pinned);
    let listed: Vec<String> = forum
        .client()
        .list_threads(ListThreadsRequest {
            board_id: "talk".to_owned(),
            ..ListThreadsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .threads
        .into_iter()
        .map(|thread| thread.thread_id)
        .collect();
    assert_eq!(
        listed,
        [old_thread.clone(), new_thread.clone()],
        "pinned first"
    );

    let locked = forum
        .client()
        .lock_thread(as_caller(
            &staff.token,
            LockThreadRequest {
                thread_id: new_thread.clone(),
                locked: true,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    assert!(locked.locked);
    for token in [&member.token, &staff.token] {
        let status = forum
            .reply(token, &new_thread, "anyone there?", "")
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    }
    forum
        .client()
        .lock_thread(as_caller(
            &staff.token,
            LockThreadRequest {
                thread_id: new_thread.clone(),
                locked: false,
            },
        ))
        .await
        .unwrap();
    forum
        .reply(&member.token, &new_thread, "open again", "")
        .await
        .unwrap();
}

#[tokio::test]
async fn staff_answer_with_a_canned_reply_filled_from_the_configuration() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Dee");
    let staff = forum.accounts.staff("Sia");
    let (thread_id, first_post_id) = forum.talk_thread(&member, "Please delete my account").await;

    let replies = forum
        .client()
        .list_canned_replies(as_caller(&staff.token, ListCannedRepliesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .canned_replies;
    let follow_up = replies
        .iter()
        .find(|reply| reply.canned_reply_id == "answer-follow-up")
        .unwrap();
    assert_eq!(follow_up.required_variables, ["answer"]);

    let answer = forum
        .client()
        .post_canned_reply(as_caller(
            &staff.token,
            PostCannedReplyRequest {
                canned_reply_id: "deactivate-account".to_owned(),
                in_reply_to_post_id: first_post_id.clone(),
                variables: HashMap::new(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .post
        .unwrap();
    assert_eq!(answer.thread_id, thread_id);
    assert_eq!(answer.in_reply_to_post_id, first_post_id);
    assert_eq!(answer.canned_reply_id, "deactivate-account");
    assert_eq!(answer.author.unwrap().kind(), AuthorKind::Staff);
    assert!(answer.body.contains("Hello Dee"), "{}", answer.body);
    assert!(
        answer
            .body
            .contains(&format!("{PUBLIC_BASE_URL}/account/deactivate")),
        "{}",
        answer.body
    );
    assert!(
        !answer.body.contains('{'),
        "every placeholder filled: {}",
        answer.body
    );

    let status = forum
        .client()
        .post_canned_reply(as_caller(
            &staff.token,
            PostCannedReplyRequest {
                canned_reply_id: "answer-follow-up".to_owned(),
                in_reply_to_post_id: first_post_id.clone(),
                variables: HashMap::new(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("{answer}"),
        "{}",
        status.message()
    );

    let status = forum
        .client()
        .post_canned_reply(as_caller(
            &member.token,
            PostCannedReplyRequest {
                canned_reply_id: "deactivate-account".to_owned(),
                in_reply_to_post_id: first_post_id,
                variables: HashMap::new(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn authors_and_staff_edit_and_soft_delete_posts() {
    let forum = TestForum::start().await;
    let author = forum.accounts.member("Ada");
    let other = forum.accounts.member("Oz");
    let staff = forum.accounts.staff("Sia");
    let (thread_id, first_post_id) = forum.talk_thread(&author, "Edits").await;
    let post = forum
        .reply(&author.token, &thread_id, "typo hree", "")
        .await
        .unwrap();

    let edit = |token: &str, post_id: &str, body: &str| {
        let request = as_caller(
            token,
            EditPostRequest {
                post_id: post_id.to_owned(),
                body: body.to_owned(),
            },
        );
        let mut client = forum.client();
        async move {
            client
                .edit_post(request)
                .await
                .map(|r| r.into_inner().post.unwrap())
        }
    };
    let delete = |token: &str, post_id: &str| {
        let request = as_caller(
            token,
            DeletePostRequest {
                post_id: post_id.to_owned(),
            },
        );
        let mut client = forum.client();
        async move {
            client
                .delete_post(request)
                .await
                .map(|r| r.into_inner().post.unwrap())
        }
    };

    let edited = edit(&author.token, &post.post_id, "typo here")
        .await
        .unwrap();
    assert_eq!(edited.body, "typo here");
    assert!(edited.edited_at.is_some());
    let status = edit(&other.token, &post.post_id, "vandalism")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = delete(&author.token, &first_post_id).await.unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::PermissionDenied,
        "first post: staff only"
    );

    let deleted = delete(&author.token, &post.post_id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.body, "");
    let again = delete(&staff.token, &post.post_id).await.unwrap();
    assert_eq!(again.deleted_at, deleted.deleted_at, "idempotent");
    let status = edit(&author.token, &post.post_id, "back")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    delete(&staff.token, &first_post_id).await.unwrap();
    let posts = forum.all_posts(&thread_id).await;
    assert_eq!(posts.len(), 2, "deleted posts stay in place");
    assert!(
        posts
            .iter()
            .all(|post| post.deleted && post.body.is_empty())
    );
}
