//! A member's way through the pages, from the breach notice in their
//! mailbox to leaving: the reset link, a new password (the policy's error
//! first), signing in, the incident thread and a question in it, a form
//! without its CSRF token refused, and the deactivation confirmed from the
//! emailed link. And a member whose password must change at sign-in.

use std::time::SystemTime;

use candor_proto::account::v1::ImportRecord;
use candorctl::commands::accounts::{seed, stream};
use candorctl::commands::breach;
use candorctl::notice::{self, NoticeFlags};

use crate::driver::Browser;
use crate::site::Site;

const NEW_PASSWORD: &str = "a fresh passphrase for the autumn";

/// Two members of the old site: one who joined before the breach's cutoff
/// (affected: their password stops working) and one who joined after (the
/// incident's `all` scope makes them change theirs at sign-in).
fn members(domain: &str) -> (ImportRecord, ImportRecord) {
    let timestamp = |text: &str| {
        let time = notice::file::parse_time(text).unwrap();
        prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: 0,
        }
    };
    let cutoff = notice::file::parse_time("2011-11-01").unwrap();
    let mut seeded = seed::members(2, cutoff, 0.5, domain.to_owned(), 18);
    let mut affected = seeded.next().unwrap();
    affected.joined_at = Some(timestamp("2005-03-01"));
    affected.display_name = "Ada Reader".to_owned();
    let mut newcomer = seeded.next().unwrap();
    newcomer.joined_at = Some(timestamp("2015-06-01"));
    newcomer.display_name = "Ben Newcomer".to_owned();
    (affected, newcomer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_follows_the_emailed_links_through_the_pages() {
    candor_testkit::tracing::init();
    let site = Site::start().await;
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let domain = format!("web-{run}.readers.example");
    let (reader, newcomer) = members(&domain);
    let summary = stream::import(
        &site.stack.endpoints,
        [reader.clone(), newcomer.clone()].into_iter(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(summary.imported, 2, "{:?}", summary.rejections);

    let incident_id = format!("web-{run}");
    let example = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/examples/breach.toml");
    let flags = NoticeFlags {
        incident_id: Some(incident_id.clone()),
        ..NoticeFlags::default()
    };
    let event = notice::load(Some(&example), &flags, SystemTime::now()).unwrap();
    breach::publish(&event, &site.stack.endpoints)
        .await
        .unwrap();

    let mut browser = Browser::start().await;

    // The notice in the reader's mailbox links the reset page and the thread.
    let notice_text = site.email(&reader.email, "Notice of Data Breach", 0).await;
    let reset_page = site.link(&notice_text, "/account/reset-password");
    let thread_url = site.link(&notice_text, "/forum/threads/");

    // Their old password no longer works.
    browser.goto(&site.url("/account/sign-in")).await;
    browser.fill("email", &reader.email).await;
    browser.fill("password", seed::DEMO_PASSWORD).await;
    browser.press("Sign in").await;
    browser.expect_heading("Sign in").await;
    assert!(
        browser
            .source()
            .await
            .contains("The email address or the password is wrong")
    );
    browser.screenshot("sign-in-refused").await;

    // The reset link from the notice: ask for an email with a token.
    browser.goto(&reset_page).await;
    browser.expect_heading("Set a new password").await;
    browser.screenshot("reset-request").await;
    browser.fill("email", &reader.email).await;
    browser.press("Email me a link").await;
    browser.expect_heading("Check your email").await;
    assert!(browser.source().await.contains(&reader.email));
    browser.screenshot("reset-requested").await;

    let reset_email = site
        .email(&reader.email, "/account/reset-password/confirm", 0)
        .await;
    let confirm_link = site.link(&reset_email, "/account/reset-password/confirm?token=");
    browser.goto(&confirm_link).await;
    browser.expect_heading("Choose your new password").await;
    browser.screenshot("reset-confirm").await;

    // A password the policy refuses: the service's message on its field.
    browser.fill("new_password", "password").await;
    browser.fill("confirm_password", "password").await;
    browser.press("Set my new password").await;
    browser.expect_heading("Choose your new password").await;
    let error = browser
        .find("#new_password-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(!error.is_empty());
    let input = browser.find("#new_password").await;
    assert_eq!(
        input.attr("aria-describedby").await.unwrap().as_deref(),
        Some("new_password-hint new_password-error")
    );
    assert_eq!(
        input.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    browser.screenshot("reset-policy-error").await;

    browser.fill("new_password", NEW_PASSWORD).await;
    browser.fill("confirm_password", NEW_PASSWORD).await;
    browser.press("Set my new password").await;
    browser.expect_heading("Your new password is set").await;
    browser.screenshot("reset-done").await;

    // The session cookie the reset set: Secure, HttpOnly, SameSite=Lax.
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|cookie| cookie.name() == "__Host-candor-session")
        .expect("a session cookie");
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Lax)");

    // Sign out, and in again with the new password.
    browser.press("Sign out").await;
    browser.expect_heading("You are signed out").await;
    browser.goto(&site.url("/account/sign-in")).await;
    browser.fill("email", &reader.email).await;
    browser.fill("password", NEW_PASSWORD).await;
    browser.press("Sign in").await;
    // With security notices waiting (LoginResponse.pending_notice_count),
    // the member is told first; otherwise straight to the forum.
    if browser.heading().await == "You are signed in" {
        browser.screenshot("signed-in-notices-waiting").await;
        browser
            .client
            .find(fantoccini::Locator::LinkText("Continue"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    browser.expect_heading("Forum").await;
    browser.screenshot("signed-in-forum").await;

    // The incident thread from the notice; a question in it.
    browser.goto(&thread_url).await;
    browser.expect_heading(&event.title).await;
    browser.screenshot("incident-thread").await;
    browser
        .fill(
            "body",
            "Does this affect the password I use on other sites?",
        )
        .await;
    browser.press("Post").await;
    browser.expect_heading(&event.title).await;
    let page = browser.source().await;
    assert!(page.contains("Does this affect the password I use on other sites?"));
    assert!(page.contains("Ada Reader"));
    browser.screenshot("question-posted").await;

    // The same form without its CSRF token is refused.
    browser
        .client
        .execute(
            "document.querySelector('#body').value = 'sent without a token'; \
             document.querySelector('main form input[name=csrf_token]').remove();",
            vec![],
        )
        .await
        .unwrap();
    browser.press("Post").await;
    browser.expect_heading("This form has expired").await;
    browser.screenshot("csrf-refused").await;
    browser.goto(&thread_url).await;
    assert!(!browser.source().await.contains("sent without a token"));

    // Leaving: ask, then confirm from the emailed link.
    browser.goto(&site.url("/account/deactivate")).await;
    browser.expect_heading("Deactivate your account").await;
    browser.screenshot("deactivate").await;
    browser.press("Email me a confirmation link").await;
    browser.expect_heading("Check your email to confirm").await;
    let confirmation = site
        .email(&reader.email, "/account/deactivate/confirm", 0)
        .await;
    let confirm_link = site.link(&confirmation, "/account/deactivate/confirm?token=");
    browser.goto(&confirm_link).await;
    browser
        .expect_heading("Confirm the deactivation of your account")
        .await;
    browser.screenshot("deactivate-confirm").await;
    browser.press("Deactivate my account").await;
    browser.expect_heading("Your account is deactivated").await;
    browser.screenshot("deactivated").await;
    // Signed out everywhere: the thread now offers to sign in, and the
    // question stays, under "former member".
    browser.goto(&thread_url).await;
    let page = browser.source().await;
    assert!(page.contains("Sign in to post"));
    assert!(page.contains("former member") || !page.contains("Ada Reader"));

    // A member outside the affected set must change their password first.
    browser.goto(&site.url("/account/sign-in")).await;
    browser.fill("email", &newcomer.email).await;
    browser.fill("password", seed::DEMO_PASSWORD).await;
    browser.press("Sign in").await;
    browser.expect_heading("Change your password").await;
    browser.screenshot("change-password").await;
    browser.fill("current_password", seed::DEMO_PASSWORD).await;
    browser.fill("new_password", NEW_PASSWORD).await;
    browser.fill("confirm_password", NEW_PASSWORD).await;
    browser.press("Change my password").await;
    browser.expect_heading("Forum").await;
    assert!(browser.source().await.contains("Sign out"));
    browser.screenshot("password-changed").await;

    browser.close().await;
    site.stop().await;
}
