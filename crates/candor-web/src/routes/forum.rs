//! `/forum` (the boards and their latest threads), `/forum/threads/<id>`
//! (GetThread and a page of ListPosts; a signed-in member gets a form to
//! reply) and the reply itself (CreatePost). Post bodies are shown as
//! escaped text, paragraphs and line breaks kept, web addresses as links.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use candor_proto::forum::v1::{
    Author, AuthorKind, CreatePostRequest, GetThreadRequest, ListBoardsRequest, ListPostsRequest,
    ListThreadsRequest, Post, Thread,
};
use http::StatusCode;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tonic::Code;

use super::reset_password::capitalise;
use super::{FormErrors, when};
use crate::AppState;
use crate::browser::{Browser, sign_in_path};
use crate::errors::{PageError, retry_after};

/// Posts per page.
const PAGE_SIZE: u32 = 50;
/// Threads listed per board on the forum's front page.
const THREADS_PER_BOARD: u32 = 25;
/// Most pages followed to find a thread's last page.
const MAX_PAGES_FOLLOWED: usize = 200;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

#[derive(Deserialize)]
pub struct PostForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    request_id: String,
}

#[derive(Serialize)]
struct ThreadView {
    path: String,
    title: String,
    author: String,
    pinned: bool,
    locked: bool,
    post_count: u32,
    last_activity: String,
}

#[derive(Serialize)]
struct PostView {
    id: String,
    author: String,
    staff: bool,
    written: String,
    deleted: bool,
    paragraphs: Vec<Vec<Vec<Segment>>>,
}

/// A piece of a line: text, or a link whose text is its address.
#[derive(Debug, PartialEq, Eq, Serialize)]
struct Segment {
    text: String,
    href: Option<String>,
}

fn author_name(author: Option<&Author>) -> (String, bool) {
    let Some(author) = author else {
        return ("unknown".to_owned(), false);
    };
    match AuthorKind::try_from(author.kind).unwrap_or(AuthorKind::Unspecified) {
        AuthorKind::FormerMember => ("former member".to_owned(), false),
        AuthorKind::Staff => (author.display_name.clone(), true),
        AuthorKind::System if author.display_name.is_empty() => ("Candor staff".to_owned(), true),
        AuthorKind::System => (author.display_name.clone(), true),
        _ => (author.display_name.clone(), false),
    }
}

fn thread_view(thread: &Thread) -> ThreadView {
    ThreadView {
        path: format!("/forum/threads/{}", thread.thread_id),
        title: thread.title.clone(),
        author: author_name(thread.author.as_ref()).0,
        pinned: thread.pinned,
        locked: thread.locked,
        post_count: thread.post_count,
        last_activity: when(thread.last_activity_at.as_ref()),
    }
}

fn post_view(post: Post) -> PostView {
    let (author, staff) = author_name(post.author.as_ref());
    PostView {
        id: post.post_id,
        author,
        staff,
        written: when(post.created_at.as_ref()),
        deleted: post.deleted,
        paragraphs: paragraphs(&post.body),
    }
}

/// `body` as paragraphs (split at blank lines) of lines of segments.
fn paragraphs(body: &str) -> Vec<Vec<Vec<Segment>>> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| paragraph.lines().map(linkify).collect())
        .collect()
}

/// Splits a line into text and `http(s)://` addresses.
fn linkify(line: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("https://").or_else(|| rest.find("http://")) {
        let (before, from) = rest.split_at(start);
        let end = from
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']'))
            .unwrap_or(from.len());
        let address = from[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if !before.is_empty() {
            segments.push(Segment {
                text: before.to_owned(),
                href: None,
            });
        }
        segments.push(Segment {
            text: address.to_owned(),
            href: Some(address.to_owned()),
        });
        rest = &from[address.len()..];
    }
    if !rest.is_empty() {
        segments.push(Segment {
            text: rest.to_owned(),
            href: None,
        });
    }
    segments
}

fn thread_id_of(text: &str) -> Result<String, PageError> {
    uuid::Uuid::parse_str(text)
        .map(|id| id.to_string())
        .map_err(|_| PageError::NotFound)
}

#[tracing::instrument(skip_all)]
pub async fn index(State(state): State<AppState>, browser: Browser) -> Result<Response, PageError> {
    let mut forum = state.backend.forum();
    let boards = forum
        .list_boards(
            state
                .backend
                .request(ListBoardsRequest {}, &browser.forwarded_for, None),
        )
        .await
        .map_err(|status| PageError::from_status(&status, "ListBoards"))?
        .into_inner()
        .boards;
    let mut listed = Vec::new();
    for board in boards {
        let request = ListThreadsRequest {
            board_id: board.board_id.clone(),
            page_size: THREADS_PER_BOARD,
            page_token: String::new(),
        };
        let threads = forum
            .list_threads(state.backend.request(request, &browser.forwarded_for, None))
            .await
            .map_err(|status| PageError::from_status(&status, "ListThreads"))?
            .into_inner()
            .threads;
        let threads: Vec<ThreadView> = threads.iter().map(thread_view).collect();
        listed.push(context! {
            name => board.name,
            description => board.description,
            threads => threads,
        });
    }
    Ok(browser.page(
        &state.csrf,
        StatusCode::OK,
        "forum.html",
        context! { boards => listed },
    ))
}

pub async fn thread(
    State(state): State<AppState>,
    browser: Browser,
    Path(thread_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    show_thread(
        &state,
        browser,
        &thread_id,
        query.page,
        StatusCode::OK,
        FormErrors::default(),
        "",
    )
    .await
}

/// The thread page: `page` is a ListPosts page token, `last` for the last
/// page, or none for the first.
#[tracing::instrument(skip_all)]
async fn show_thread(
    state: &AppState,
    browser: Browser,
    thread_id: &str,
    page: Option<String>,
    status: StatusCode,
    errors: FormErrors,
    draft: &str,
) -> Result<Response, PageError> {
    let thread_id = thread_id_of(thread_id)?;
    let mut forum = state.backend.forum();
    let request = GetThreadRequest {
        thread_id: thread_id.clone(),
    };
    let thread = match forum
        .get_thread(state.backend.request(request, &browser.forwarded_for, None))
        .await
    {
        Ok(response) => response
            .into_inner()
            .thread
            .ok_or_else(|| anyhow::anyhow!("GetThread answered without a thread"))?,
        Err(status) if status.code() == Code::InvalidArgument => return Err(PageError::NotFound),
        Err(status) => return Err(PageError::from_status(&status, "GetThread")),
    };
    let follow_to_last = page.as_deref() == Some("last");
    let mut page_token = page.filter(|token| token != "last").unwrap_or_default();
    let first_page = page_token.is_empty();
    let mut followed = 0;
    let (posts, next_page_token) = loop {
        let request = ListPostsRequest {
            thread_id: thread_id.clone(),
            page_size: PAGE_SIZE,
            page_token: page_token.clone(),
        };
        let response = forum
            .list_posts(state.backend.request(request, &browser.forwarded_for, None))
            .await
            .map_err(|status| PageError::from_status(&status, "ListPosts"))?
            .into_inner();
        followed += 1;
        let at_end = response.next_page_token.is_empty() || response.posts.is_empty();
        if !follow_to_last || at_end || followed >= MAX_PAGES_FOLLOWED {
            break (response.posts, response.next_page_token);
        }
        page_token = response.next_page_token;
    };
    let posts: Vec<PostView> = posts.into_iter().map(post_view).collect();
    let path = format!("/forum/threads/{thread_id}");
    let next_page = (!next_page_token.is_empty()).then(|| {
        format!(
            "{path}?page={}",
            percent_encoding::utf8_percent_encode(
                &next_page_token,
                percent_encoding::NON_ALPHANUMERIC
            )
        )
    });
    let sign_in = sign_in_path(&path);
    Ok(browser.page(
        &state.csrf,
        status,
        "thread.html",
        context! {
            thread => thread_view(&thread),
            incident => !thread.incident_id.is_empty(),
            posts => posts,
            next_page => next_page,
            first_page => (!first_page || followed > 1).then(|| path.clone()),
            sign_in_path => sign_in,
            request_id => uuid::Uuid::new_v4().to_string(),
            draft => draft,
            errors => errors,
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn create_post(
    State(state): State<AppState>,
    browser: Browser,
    Path(thread_id): Path<String>,
    Form(form): Form<PostForm>,
) -> Result<Response, PageError> {
    let thread_id = thread_id_of(&thread_id)?;
    let path = format!("/forum/threads/{thread_id}");
    let Some(session) = browser.session.clone() else {
        return Ok(browser.redirect(&sign_in_path(&path)));
    };
    // The form's own id makes a double submission one post.
    let request_id = uuid::Uuid::parse_str(&form.request_id)
        .map(|id| id.to_string())
        .unwrap_or_default();
    let request = CreatePostRequest {
        thread_id: thread_id.clone(),
        body: form.body.clone(),
        in_reply_to_post_id: String::new(),
        request_id,
    };
    let answer = state
        .backend
        .forum()
        .create_post(
            state
                .backend
                .request(request, &browser.forwarded_for, Some(&session)),
        )
        .await;
    let refused = |message: String| FormErrors::on("body", message);
    let errors = match answer {
        Ok(response) => {
            let post_id = response
                .into_inner()
                .post
                .map(|post| post.post_id)
                .unwrap_or_default();
            return Ok(browser.redirect(&format!("{path}?page=last#post-{post_id}")));
        }
        Err(status) => match status.code() {
            Code::Unauthenticated => return Ok(browser.redirect(&sign_in_path(&path))),
            Code::InvalidArgument => {
                let message = crate::errors::field_error(&status)
                    .map(|(_, message)| message)
                    .unwrap_or_else(|| status.message().to_owned());
                refused(capitalise(&message))
            }
            Code::ResourceExhausted => refused(match retry_after(&status) {
                Some(seconds) => {
                    format!("You are posting too fast: try again in {seconds} seconds.")
                }
                None => "You are posting too fast: try again in a moment.".to_owned(),
            }),
            Code::FailedPrecondition => refused("This thread is locked: no new posts.".to_owned()),
            Code::PermissionDenied => refused("You may not post in this thread.".to_owned()),
            _ => return Err(PageError::from_status(&status, "CreatePost")),
        },
    };
    show_thread(
        &state,
        browser,
        &thread_id,
        Some("last".to_owned()),
        StatusCode::UNPROCESSABLE_ENTITY,
        errors,
        &form.body,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_links_and_the_rest_stays_text() {
        let segments = linkify("Leave: https://books.example/account/deactivate. Or stay.");
        assert_eq!(
            segments,
            vec![
                Segment {
                    text: "Leave: ".to_owned(),
                    href: None
                },
                Segment {
                    text: "https://books.example/account/deactivate".to_owned(),
                    href: Some("https://books.example/account/deactivate".to_owned()),
                },
                Segment {
                    text: ". Or stay.".to_owned(),
                    href: None
                },
            ]
        );
        assert_eq!(linkify("no link").len(), 1);
        let markdown = linkify("[here](https://a.example/x)");
        assert_eq!(markdown[1].href.as_deref(), Some("https://a.example/x"));
        assert_eq!(markdown[2].text, ")");
    }

    #[test]
    fn paragraphs_split_at_blank_lines() {
        let shown = paragraphs("one\ntwo\n\n\nthree\r\n");
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].len(), 2);
    }
}
