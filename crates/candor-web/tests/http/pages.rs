//! Headers, cookies, CSRF and error pages, over HTTP.

use crate::client::{Visitor, Web};

const TOKEN_PAGES: &[&str] = &[
    "/account/reset-password",
    "/account/reset-password/confirm?token=abc",
    "/account/deactivate/confirm?token=abc",
    "/account/sign-in",
];

#[test]
fn every_page_is_served_with_the_security_headers() {
    let web = Web::start();
    let mut visitor = Visitor::default();
    for path in TOKEN_PAGES.iter().chain(&["/forum/threads/not-a-thread"]) {
        let answer = visitor.get(&web.url(path));
        assert_eq!(answer.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(answer.header("cache-control"), "no-store", "{path}");
        assert_eq!(answer.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(answer.header("x-frame-options"), "DENY", "{path}");
        let policy = answer.header("content-security-policy");
        assert_eq!(policy, candor_web::CONTENT_SECURITY_POLICY_VALUE, "{path}");
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("script-src"), "no script at all: {policy}");
        assert!(answer.body.contains("<html lang=\"en\">"), "{path}");
    }
    let stylesheet = visitor.get(&web.url("/static/site.css"));
    assert_eq!(stylesheet.status, 200);
    assert!(stylesheet.header("content-type").starts_with("text/css"));
}

#[test]
fn the_csrf_cookie_is_secure_http_only_and_lax() {
    let web = Web::start();
    let mut visitor = Visitor::default();
    let answer = visitor.get(&web.url("/account/reset-password"));
    assert_eq!(answer.status, 200);
    let cookie = answer.header("set-cookie");
    assert!(cookie.starts_with("__Host-candor-csrf="), "{cookie}");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    // The same browser keeps its nonce: no new cookie on the next page.
    let again = visitor.get(&web.url("/account/sign-in"));
    assert!(again.header_values("set-cookie").is_empty());
    assert_eq!(again.csrf_token(), answer.csrf_token());
}

#[test]
fn a_post_without_the_right_csrf_token_is_refused() {
    let web = Web::start();
    let url = web.url("/account/reset-password");
    // No cookie, no token.
    let answer = Visitor::default().post(&url, &[("email", "reader@example.org")]);
    assert_eq!(answer.status, 403);
    assert!(
        answer.body.contains("This form has expired"),
        "{}",
        answer.body
    );

    let mut visitor = Visitor::default();
    let token = visitor.get(&url).csrf_token();
    for form in [
        vec![("email", "reader@example.org")],
        vec![("email", "reader@example.org"), ("csrf_token", "")],
        vec![
            ("email", "reader@example.org"),
            ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ],
    ] {
        let answer = visitor.post(&url, &form);
        assert_eq!(answer.status, 403, "{form:?}");
    }
    // Another browser's token does not work with this browser's cookie.
    let other_token = Visitor::default().get(&url).csrf_token();
    assert_ne!(other_token, token);
    let answer = visitor.post(
        &url,
        &[
            ("email", "reader@example.org"),
            ("csrf_token", &other_token),
        ],
    );
    assert_eq!(answer.status, 403);
    // Every POST route is covered, whatever it does.
    for path in [
        "/account/sign-in",
        "/account/sign-out",
        "/account/change-password",
        "/account/deactivate",
        "/account/deactivate/confirm",
        "/account/notices/acknowledge",
        "/forum/threads/00000000-0000-0000-0000-000000000000/posts",
    ] {
        let answer = Visitor::default().post(&web.url(path), &[]);
        assert_eq!(answer.status, 403, "{path}");
    }
}

#[test]
fn with_the_token_the_form_goes_through_and_errors_are_pages() {
    let web = Web::start();
    let mut visitor = Visitor::default();
    let url = web.url("/account/reset-password");
    let token = visitor.get(&url).csrf_token();
    // The account service is down: a 503 page, no internals.
    let answer = visitor.post(
        &url,
        &[("email", "reader@example.org"), ("csrf_token", &token)],
    );
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        answer.body.contains("<h1>We cannot answer right now</h1>"),
        "{}",
        answer.body
    );
    assert_eq!(answer.header("cache-control"), "no-store");
}

#[test]
fn a_password_mismatch_is_shown_on_its_field() {
    let web = Web::start();
    let mut visitor = Visitor::default();
    let page = visitor.get(&web.url("/account/reset-password/confirm?token=t0ken"));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<input type=\"hidden\" name=\"token\" value=\"t0ken\">")
    );
    for label in [
        "<label for=\"new_password\">",
        "<label for=\"confirm_password\">",
    ] {
        assert!(page.body.contains(label), "{label}");
    }
    let answer = visitor.post(
        &web.url("/account/reset-password/confirm"),
        &[
            ("csrf_token", &page.csrf_token()),
            ("token", "t0ken"),
            ("new_password", "one long passphrase"),
            ("confirm_password", "another long passphrase"),
        ],
    );
    assert_eq!(answer.status, 422);
    assert!(
        answer.body.contains("id=\"confirm_password-error\""),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains("aria-describedby=\"confirm_password-error\""),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("aria-invalid=\"true\""));
    assert!(answer.body.contains("The two passwords are not the same."));
    assert!(
        !answer.body.contains("passphrase"),
        "passwords are never echoed"
    );
}

#[test]
fn incomplete_links_and_unknown_pages_are_explained() {
    let web = Web::start();
    let mut visitor = Visitor::default();
    let answer = visitor.get(&web.url("/account/reset-password/confirm"));
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("The link is incomplete"));
    let answer = visitor.get(&web.url("/no/such/page"));
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("<h1>Page not found</h1>"));
    let answer = visitor.get(&web.url("/forum/threads/not-a-uuid"));
    assert_eq!(answer.status, 404);
    // A member page without a session leads to the sign-in, coming back.
    let answer = visitor.get(&web.url("/account/deactivate"));
    assert_eq!(answer.status, 303);
    assert_eq!(
        answer.header("location"),
        "/account/sign-in?next=%2Faccount%2Fdeactivate"
    );
    // The sign-in form never sends the member elsewhere.
    let answer = visitor.get(&web.url("/account/sign-in?next=https://evil.example/"));
    assert!(
        answer.body.contains("name=\"next\" value=\"&#x2f;forum\""),
        "{}",
        answer.body
    );
}

#[test]
fn health_answers_ok() {
    let web = Web::start();
    let answer = Visitor::default().get(&web.url("/healthz"));
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok\n"));
}
