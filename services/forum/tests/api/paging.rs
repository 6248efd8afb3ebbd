//! Cursor paging stays consistent while posts are added.

use std::collections::HashSet;

use candor_proto::forum::v1::*;

use crate::support::forum::TestForum;

#[tokio::test]
async fn listing_posts_while_posts_arrive_repeats_and_skips_nothing() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Pager");
    let (thread_id, _) = forum.talk_thread(&member, "Busy").await;
    for index in 0..6 {
        forum
            .reply(&member.token, &thread_id, &format!("early {index}"), "")
            .await
            .unwrap();
    }

    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut added = 0;
    loop {
        let page = forum
            .client()
            .list_posts(ListPostsRequest {
                thread_id: thread_id.clone(),
                page_size: 3,
                page_token: page_token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.posts.into_iter().map(|post| post.body));
        if page.next_page_token.is_empty() {
            break;
        }
        // Posts arrive between pages.
        forum
            .reply(&member.token, &thread_id, &format!("late {added}"), "")
            .await
            .unwrap();
        added += 1;
        page_token = page.next_page_token;
    }
    let mut expected = vec!["first post of Busy".to_owned()];
    expected.extend((0..6).map(|index| format!("early {index}")));
    assert!(added >= 2, "posts arrived while paging");
    expected.extend((0..added).map(|index| format!("late {index}")));
    assert_eq!(seen, expected);

    let status = forum
        .client()
        .list_posts(ListPostsRequest {
            thread_id: forum.talk_thread(&member, "Other").await.0,
            page_size: 3,
            page_token: page_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn listing_threads_while_posts_bump_them_repeats_and_skips_nothing() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Lister");
    let mut threads = Vec::new();
    for index in 0..7 {
        threads.push(
            forum
                .talk_thread(&member, &format!("thread {index}"))
                .await
                .0,
        );
    }

    let list = |page_token: String| {
        let mut client = forum.client();
        async move {
            client
                .list_threads(ListThreadsRequest {
                    board_id: "talk".to_owned(),
                    page_size: 3,
                    page_token,
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let first = list(String::new()).await;
    let mut seen: Vec<String> = first.threads.iter().map(|t| t.thread_id.clone()).collect();
    // Newest activity first: threads 6, 5, 4.
    assert_eq!(
        seen,
        [threads[6].clone(), threads[5].clone(), threads[4].clone()]
    );

    // Bump the oldest thread (still to come) and a seen one; start a new one.
    forum
        .reply(&member.token, &threads[0], "bump the oldest", "")
        .await
        .unwrap();
    forum
        .reply(&member.token, &threads[6], "bump a seen one", "")
        .await
        .unwrap();
    let late = forum.talk_thread(&member, "late thread").await.0;

    let mut token = first.next_page_token;
    while !token.is_empty() {
        let page = list(token).await;
        seen.extend(page.threads.into_iter().map(|t| t.thread_id));
        token = page.next_page_token;
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no thread twice: {seen:?}");
    let expected: HashSet<&String> = threads.iter().collect();
    assert_eq!(unique, expected, "every thread once, none skipped");

    // A fresh listing shows the new activity.
    let fresh: Vec<String> = list(String::new())
        .await
        .threads
        .into_iter()
        .map(|t| t.thread_id)
        .collect();
    assert_eq!(fresh, [late, threads[6].clone(), threads[0].clone()]);
}

async fn first_page(
    forum: &TestForum,
    thread_id: &str,
) -> Result<ListPostsResponse, tonic::Status> {
    forum
        .client()
        .list_posts(ListPostsRequest {
            thread_id: thread_id.to_owned(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_cached_page_reads_the_same_until_a_local_write_and_errors_keep_their_codes() {
    let forum = TestForum::start().await;
    let member = forum.accounts.member("Rereader");
    let (thread_id, _) = forum.talk_thread(&member, "Cached").await;
    let fresh = first_page(&forum, &thread_id).await.unwrap();
    assert_eq!(fresh.posts.len(), 1);
    // Served from the encoded page this time.
    assert_eq!(first_page(&forum, &thread_id).await.unwrap(), fresh);

    forum
        .reply(&member.token, &thread_id, "after the cache", "")
        .await
        .unwrap();
    let bodies: Vec<String> = first_page(&forum, &thread_id)
        .await
        .unwrap()
        .posts
        .into_iter()
        .map(|post| post.body)
        .collect();
    assert_eq!(bodies, ["first post of Cached", "after the cache"]);

    let unknown = uuid::Uuid::new_v4().to_string();
    let status = first_page(&forum, &unknown).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = first_page(&forum, "not-a-uuid").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}
