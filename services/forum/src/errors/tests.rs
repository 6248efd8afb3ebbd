//! Every case of every forum RPC's error is in that RPC's errors table (or
//! its package's): a reason the tables do not list fails here.

use candor_platform::auth::SessionError;
use candor_platform::grpc::error_kind::check_errors_documented;
use candor_platform::grpc::{InvalidField, Reason, RpcError};
use uuid::Uuid;

use super::*;
use crate::domain::posting::PostingRefused;

const SERVICE: &str = "candor.forum.v1.ForumService";

fn invalid() -> InvalidField {
    InvalidField::new("thread_id", "must be a UUID")
}

fn internal() -> anyhow::Error {
    anyhow::anyhow!("x")
}

/// What resolving a member session can answer: no or a malformed
/// credential, an unknown session, the account service unavailable.
fn session_errors() -> Vec<SessionError> {
    vec![
        SessionError::Unauthenticated("no token".to_owned(), Reason::CREDENTIAL_MISSING),
        SessionError::Unauthenticated("not bearer".to_owned(), Reason::CREDENTIAL_MALFORMED),
        SessionError::Unauthenticated("revoked".to_owned(), Reason::SESSION_INVALID),
        SessionError::Unavailable(tonic::Status::unavailable("down")),
        SessionError::Internal(internal()),
    ]
}

/// What starting a thread can refuse (`store::posting::start_thread`).
fn thread_refusals() -> Vec<PostingRefused> {
    vec![
        PostingRefused::Invalid(InvalidField::new("title", "required")),
        PostingRefused::BoardNotFound("nowhere".to_owned()),
        PostingRefused::StaffOnlyBoard("announcements".to_owned()),
        PostingRefused::Duplicate(Uuid::nil()),
        PostingRefused::RateLimited(3),
        PostingRefused::Deactivated,
    ]
}

/// What adding a reply can refuse (`store::posting::reply`).
fn reply_refusals() -> Vec<PostingRefused> {
    vec![
        PostingRefused::Invalid(InvalidField::new("body", "required")),
        PostingRefused::ThreadNotFound(Uuid::nil()),
        PostingRefused::PostNotFound(Uuid::nil()),
        PostingRefused::ThreadLocked(Uuid::nil()),
        PostingRefused::Duplicate(Uuid::nil()),
        PostingRefused::RateLimited(3),
        PostingRefused::Deactivated,
    ]
}

/// What a canned reply can refuse: a reply by staff to a post it read
/// (the thread and post exist), without duplicate check or rate limit.
fn canned_reply_refusals() -> Vec<PostingRefused> {
    vec![
        PostingRefused::Invalid(InvalidField::new("body", "too long")),
        PostingRefused::ThreadLocked(Uuid::nil()),
        PostingRefused::Deactivated,
    ]
}

type Errors = Vec<(&'static str, Box<dyn RpcError>)>;

fn push_all<E: RpcError + 'static>(errors: &mut Errors, rpc: &'static str, cases: Vec<E>) {
    errors.extend(
        cases
            .into_iter()
            .map(|error| (rpc, Box::new(error) as Box<dyn RpcError>)),
    );
}

/// Every case of every RPC's error, by RPC.
fn every_error() -> Errors {
    let mut errors = Errors::new();
    push_all(
        &mut errors,
        "ListBoards",
        vec![ListBoardsError::Internal(internal())],
    );

    let mut create_thread: Vec<CreateThreadError> = vec![
        CreateThreadError::Invalid(invalid()),
        CreateThreadError::Internal(internal()),
    ];
    create_thread.extend(session_errors().into_iter().map(CreateThreadError::from));
    create_thread.extend(thread_refusals().into_iter().map(CreateThreadError::from));
    push_all(&mut errors, "CreateThread", create_thread);

    push_all(
        &mut errors,
        "GetThread",
        vec![
            GetThreadError::Invalid(invalid()),
            GetThreadError::ThreadNotFound(Uuid::nil()),
            GetThreadError::Internal(internal()),
        ],
    );
    push_all(
        &mut errors,
        "ListThreads",
        vec![
            ListThreadsError::Invalid(invalid()),
            ListThreadsError::BoardNotFound("nowhere".to_owned()),
            ListThreadsError::Internal(internal()),
        ],
    );

    let mut create_post: Vec<CreatePostError> = vec![
        CreatePostError::Invalid(invalid()),
        CreatePostError::Internal(internal()),
    ];
    create_post.extend(session_errors().into_iter().map(CreatePostError::from));
    create_post.extend(reply_refusals().into_iter().map(CreatePostError::from));
    push_all(&mut errors, "CreatePost", create_post);

    push_all(
        &mut errors,
        "ListPosts",
        vec![
            ListPostsError::Invalid(invalid()),
            ListPostsError::ThreadNotFound(Uuid::nil()),
            ListPostsError::Internal(internal()),
        ],
    );

    let mut edit_post: Vec<EditPostError> = vec![
        EditPostError::Invalid(invalid()),
        EditPostError::PostNotFound(Uuid::nil()),
        EditPostError::NotAuthorOrStaff,
        EditPostError::PostDeleted(Uuid::nil()),
        EditPostError::ThreadLocked(Uuid::nil()),
        EditPostError::Internal(internal()),
    ];
    edit_post.extend(session_errors().into_iter().map(EditPostError::from));
    push_all(&mut errors, "EditPost", edit_post);

    let mut delete_post: Vec<DeletePostError> = vec![
        DeletePostError::Invalid(invalid()),
        DeletePostError::PostNotFound(Uuid::nil()),
        DeletePostError::NotAuthorOrStaff,
        DeletePostError::FirstPostNeedsStaff,
        DeletePostError::Internal(internal()),
    ];
    delete_post.extend(session_errors().into_iter().map(DeletePostError::from));
    push_all(&mut errors, "DeletePost", delete_post);

    for rpc in ["PinThread", "LockThread"] {
        let mut set_flag: Vec<SetThreadFlagError> = vec![
            SetThreadFlagError::NotStaff,
            SetThreadFlagError::Invalid(invalid()),
            SetThreadFlagError::ThreadNotFound(Uuid::nil()),
            SetThreadFlagError::Internal(internal()),
        ];
        set_flag.extend(session_errors().into_iter().map(SetThreadFlagError::from));
        push_all(&mut errors, rpc, set_flag);
    }

    push_all(
        &mut errors,
        "GetIncidentThread",
        vec![
            GetIncidentThreadError::Invalid(invalid()),
            GetIncidentThreadError::IncidentThreadNotFound("incident-1".to_owned()),
            GetIncidentThreadError::Internal(internal()),
        ],
    );

    let mut list_canned: Vec<ListCannedRepliesError> = vec![
        ListCannedRepliesError::NotStaff,
        ListCannedRepliesError::Internal(internal()),
    ];
    list_canned.extend(
        session_errors()
            .into_iter()
            .map(ListCannedRepliesError::from),
    );
    push_all(&mut errors, "ListCannedReplies", list_canned);

    let mut post_canned: Vec<PostCannedReplyError> = vec![
        PostCannedReplyError::NotStaff,
        PostCannedReplyError::Invalid(invalid()),
        PostCannedReplyError::CannedReplyNotFound("nothing".to_owned()),
        PostCannedReplyError::AnsweredPostNotFound(Uuid::nil()),
        PostCannedReplyError::Internal(internal()),
    ];
    post_canned.extend(session_errors().into_iter().map(PostCannedReplyError::from));
    post_canned.extend(
        canned_reply_refusals()
            .into_iter()
            .map(PostCannedReplyError::from),
    );
    push_all(&mut errors, "PostCannedReply", post_canned);
    errors
}

#[test]
fn every_error_is_documented_for_its_rpc() {
    if let Err(undocumented) = check_errors_documented(SERVICE, every_error()) {
        panic!("{undocumented}");
    }
}

#[test]
fn refusals_of_the_posting_transaction_keep_their_field_and_delay() {
    let error = CreatePostError::from(PostingRefused::Invalid(InvalidField::new(
        "body", "required",
    )));
    assert_eq!(error.reason(), Reason::INVALID_FIELD);
    assert_eq!(error.invalid_field().map(|field| field.field), Some("body"));
    let error = CreateThreadError::from(PostingRefused::RateLimited(7));
    assert_eq!(error.reason(), Reason::THROTTLED);
    assert_eq!(
        error.kind(),
        ErrorKind::ResourceExhausted {
            retry_after_seconds: 7
        }
    );
    assert!(error.invalid_field().is_none());
}
