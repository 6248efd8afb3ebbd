//! The notice rendered from the README's real incident.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use candor_proto::events::v1::{
    ACCOUNT_DATA_CLASSES, BreachReported, DataClass, DataClassTaken, PasswordResetScope,
};

use super::*;

const INCIDENT_JSON: &str =
    include_str!("../../../../crates/candor-proto/tests/data/breach_reported.json");

fn incident() -> BreachReported {
    candor_proto::decode_json(INCIDENT_JSON.as_bytes()).unwrap()
}

fn renderer() -> Arc<Renderer> {
    Renderer::new(
        &EmailIdentity::new("notices@candor.example", "Candor Books"),
        "https://candor.example/",
    )
    .unwrap()
}

fn notice(display_name: &str, thread_url: Option<&str>) -> RenderedEmail {
    notice_for(display_name, thread_url, None)
}

fn notice_for(
    display_name: &str,
    thread_url: Option<&str>,
    held: Option<&HeldData>,
) -> RenderedEmail {
    let renderer = renderer();
    let context = IncidentContext::new(&incident());
    renderer
        .breach_notice(
            &context,
            NoticeRecipient {
                display_name,
                to_address: "reader@example.org",
                thread_url,
                held,
            },
            "<job@candor.example>",
        )
        .unwrap()
}

/// Ada, without a thread link, about whom nothing is known.
fn ada_at(to_address: &str) -> NoticeRecipient<'_> {
    NoticeRecipient {
        display_name: "Ada",
        to_address,
        thread_url: None,
        held: None,
    }
}

fn held(classes: &[DataClass]) -> HeldData {
    let numbers: Vec<i32> = classes.iter().map(|class| *class as i32).collect();
    HeldData::from_event(&numbers).unwrap()
}

#[test]
fn the_notice_has_every_regulatory_section_in_both_parts() {
    let email = notice("Ada", Some("https://candor.example/forum/threads/t1"));
    assert_eq!(email.subject, "Notice of Data Breach");
    for heading in [
        "What Happened",
        "What Information Was Involved",
        "What We Are Doing",
        "What You Can Do",
        "For More Information",
    ] {
        assert!(
            email.html.contains(&format!("<h2>{heading}</h2>")),
            "{heading}"
        );
        assert!(email.text.contains(&heading.to_uppercase()), "{heading}");
    }
    for part in [&email.text, &email.html] {
        assert!(part.contains("Dear Ada,"));
        assert!(part.contains("14 May 2025, 02:10 UTC"), "occurred_at");
        assert!(part.contains("20 May 2025, 16:45 UTC"), "discovered_at");
        assert!(part.contains("salted SHA-1 password hashes"), "data taken");
        assert!(part.contains("a free upgrade to a lifetime membership (worth $25)"));
        assert!(
            part.contains("Attackers may try to crack"),
            "likely consequences"
        );
        assert!(part.contains("Revoked the leaked key"), "measures");
        assert!(part.contains("privacy@candor.example"), "contact point");
    }
    for link in [
        "https://candor.example/account/reset-password",
        "https://candor.example/account/deactivate",
        "https://candor.example/forum/threads/t1",
    ] {
        assert!(email.text.contains(link), "{link}");
        assert!(email.html.contains(&format!("href=\"{link}\"")), "{link}");
    }
}

#[test]
fn values_are_html_escaped_in_the_html_part_only() {
    let email = notice("<b>Bob & Co</b>", None);
    let quote = notice("\"O'Neil\"", None);
    assert!(
        quote.html.contains("Dear &quot;O&#x27;Neil&quot;,"),
        "{}",
        quote.html
    );
    assert!(
        email.html.contains("Dear &lt;b&gt;Bob &amp; Co&lt;/b&gt;,"),
        "{}",
        email.html
    );
    assert!(!email.html.contains("<b>Bob"));
    assert!(email.text.contains("Dear <b>Bob & Co</b>,"));
}

#[test]
fn without_a_thread_link_the_notice_omits_the_forum_sentence() {
    let email = notice("Ada", None);
    assert!(!email.text.contains("forum thread"));
    assert!(!email.html.contains("forum thread"));
}

#[test]
fn headers_carry_message_id_auto_submitted_and_reply_to() {
    let email = notice("Ada", None);
    let names: Vec<&str> = email
        .headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        names,
        ["From", "To", "Reply-To", "Message-ID", "Auto-Submitted"]
    );
    let (_envelope, bytes) = email.format().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("Message-ID: <job@candor.example>\r\n"));
    assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
    assert!(text.contains("Reply-To: privacy@candor.example\r\n"));
    assert!(text.contains("Subject: Notice of Data Breach\r\n"));
    assert!(text.contains("multipart/alternative"));
    assert!(text.contains("text/plain") && text.contains("text/html"));
}

#[test]
fn a_bad_recipient_address_is_a_render_error() {
    let renderer = renderer();
    let context = IncidentContext::new(&incident());
    let result = renderer.breach_notice(&context, ada_at("not an address"), "<a@b>");
    assert!(matches!(result, Err(RenderError::InvalidAddress(_))));
}

/// A part of a formatted message, quoted-printable decoded.
fn decoded_part(message: &str, content_type: &str) -> String {
    let start = message
        .find(&format!("Content-Type: {content_type}"))
        .unwrap();
    let body_start = start + message[start..].find("\r\n\r\n").unwrap() + 4;
    let body_end = body_start + message[body_start..].find("\r\n--").unwrap();
    let decoded = quoted_printable::decode(
        &message[body_start..body_end],
        quoted_printable::ParseMode::Strict,
    )
    .unwrap();
    String::from_utf8(decoded).unwrap().replace("\r\n", "\n")
}

#[test]
fn a_prepared_notice_formats_exactly_what_a_full_render_says() {
    let renderer = renderer();
    let context = IncidentContext::new(&incident());
    let long_name = "Bartholomew ".repeat(12);
    let email_only = held(&[DataClass::EmailAddress]);
    for (thread_url, held) in [
        (Some("https://candor.example/forum/threads/t1"), None),
        (None, None),
        (None, Some(&email_only)),
    ] {
        let prepared = renderer
            .prepare_breach_notice(&context, thread_url, held)
            .unwrap();
        for name in [
            "Ada",
            "Zoë <b>&\"O'Neil\"</b>",
            long_name.as_str(),
            "",
            "  ",
        ] {
            let to = "reader+1@example.org";
            let full = renderer
                .breach_notice(
                    &context,
                    NoticeRecipient {
                        display_name: name,
                        to_address: to,
                        thread_url,
                        held,
                    },
                    "<job@candor.example>",
                )
                .unwrap();
            let (envelope, message) = prepared.format(name, to, "<job@candor.example>").unwrap();
            let message = String::from_utf8(message).unwrap();
            assert_eq!(envelope.to().len(), 1);
            assert_eq!(envelope.to()[0].to_string(), to);
            assert_eq!(decoded_part(&message, "text/plain"), full.text, "{name:?}");
            assert_eq!(decoded_part(&message, "text/html"), full.html, "{name:?}");
            assert!(message.starts_with("Date: "), "{message}");
            assert_eq!(message.matches("\r\nDate: ").count(), 0, "one Date header");
            let body = message.split_once("\r\n\r\n").unwrap().1;
            let long = body.lines().find(|line| line.len() > 76);
            assert_eq!(long, None, "quoted-printable lines are at most 76 long");
            for header in [
                "Subject: Notice of Data Breach\r\n",
                "Message-ID: <job@candor.example>\r\n",
                "Auto-Submitted: auto-generated\r\n",
                "MIME-Version: 1.0\r\n",
                "From: \"Candor Books\" <notices@candor.example>\r\n",
            ] {
                assert!(message.contains(header), "{header:?} in {message}");
            }
            assert!(message.contains("Reply-To: "), "{message}");
        }
    }
}

#[test]
fn a_prepared_notice_refuses_an_invalid_address() {
    let renderer = renderer();
    let prepared = renderer
        .prepare_breach_notice(&IncidentContext::new(&incident()), None, None)
        .unwrap();
    let result = prepared.format("Ada", "not an address", "<job@candor.example>");
    assert!(matches!(result, Err(RenderError::InvalidAddress(_))));
}

#[test]
fn the_organisation_speaks_from_its_settings_never_from_the_from_address() {
    let renderer = Renderer::new(
        &EmailIdentity {
            from: "security@acme.example",
            organisation_name: "Acme",
            organisation_contact: Some("https://acme.example/help"),
            organisation_logo_url: Some("https://acme.example/logo.png"),
        },
        "https://acme.example/",
    )
    .unwrap();
    let email = renderer
        .breach_notice(
            &IncidentContext::new(&incident()),
            ada_at("ada@example.org"),
            "<job@acme.example>",
        )
        .unwrap();
    for part in [&email.text, &email.html] {
        assert!(
            part.contains("a data breach at Acme that involves"),
            "{part}"
        );
        assert!(part.contains("https://acme.example/help"), "{part}");
    }
    assert!(
        email
            .text
            .ends_with("We are sorry this happened.\n\nAcme\nhttps://acme.example/help\n")
    );
    assert!(email.html.contains(
        r#"<img src="https://acme.example/logo.png" alt="Acme" style="max-height: 64px;">"#
    ));
    assert!(
        !email.text.contains("logo.png"),
        "the logo is for HTML only"
    );
    assert!(
        email
            .headers
            .contains(&("From".to_owned(), "Acme <security@acme.example>".to_owned()))
    );
    // A display name in EMAIL_FROM is kept as the From name; it no longer
    // names the organisation.
    let named = Renderer::new(
        &EmailIdentity::new("Acme Security <security@acme.example>", "Acme"),
        "https://acme.example/",
    )
    .unwrap();
    let email = named
        .transactional(
            &TransactionalContent::PasswordChanged {
                changed_at: chrono::Utc::now(),
            },
            "Ada",
            "ada@example.org",
            "<job@acme.example>",
        )
        .unwrap();
    assert!(email.text.contains("your Acme account"), "{}", email.text);
    assert!(
        email.text.ends_with("Acme\nsecurity@acme.example\n"),
        "{}",
        email.text
    );
    assert!(
        email
            .html
            .contains(r#"<a href="mailto:security@acme.example">security@acme.example</a>"#)
    );
    assert!(
        email.headers.contains(&(
            "From".to_owned(),
            "Acme Security <security@acme.example>".to_owned()
        )),
        "{:?}",
        email.headers
    );
}

#[test]
fn a_member_is_told_only_of_the_data_held_about_them() {
    // Held everything: the email, the hash and the password steps.
    let email = notice_for("Ada", None, Some(&held(&ACCOUNT_DATA_CLASSES)));
    for part in [&email.text, &email.html] {
        assert!(part.contains("Your email address"), "{part}");
        assert!(part.contains("Your password hash (salted SHA-1 password hashes)"));
        assert!(part.contains("Your old password no longer works"));
        assert!(part.contains("https://candor.example/account/reset-password"));
    }
    // Imported without a password hash: the email only, no password claim
    // and no password steps.
    let email = notice_for("Bo", None, Some(&held(&[DataClass::EmailAddress])));
    for part in [&email.text, &email.html] {
        assert!(part.contains("Your email address"), "{part}");
        assert!(!part.contains("Your password hash"), "{part}");
        assert!(!part.contains("Your old password"), "{part}");
        assert!(!part.contains("account/reset-password"), "{part}");
        assert!(part.contains("Be wary of emails asking for your password"));
        assert!(part.contains("account/deactivate"), "{part}");
    }
}

#[test]
fn classes_the_account_service_cannot_know_about_are_always_told() {
    let mut report = incident();
    report.data_classes.push(DataClassTaken {
        data_class: DataClass::IpAddress as i32,
        description: String::new(),
    });
    report.likely_consequences.clear();
    let notice = IncidentNotice::for_member(&report, Some(&held(&[DataClass::EmailAddress])));
    assert_eq!(
        notice.data_classes,
        ["Your email address", "IP addresses you used"]
    );
    assert_eq!(
        notice.likely_consequences,
        "You may receive phishing emails that look as if they come from us.",
        "derived from what was taken from this member"
    );
    // Nothing held of what was taken: the notice says so.
    report
        .data_classes
        .retain(|taken| taken.data_class == DataClass::PasswordHash as i32);
    let email = renderer()
        .breach_notice(
            &IncidentContext::new(&report),
            NoticeRecipient {
                held: Some(&held(&[DataClass::EmailAddress])),
                ..ada_at("bo@example.org")
            },
            "<job@candor.example>",
        )
        .unwrap();
    assert!(
        email
            .text
            .contains("We did not hold any of the kinds of information that were taken about you")
    );
    assert!(email.text.contains("  - Be wary of emails"));
}

#[test]
fn advice_the_password_steps_already_give_is_not_repeated() {
    let mut report = incident();
    report.password_reset_scope = PasswordResetScope::Affected as i32;
    report.recommended_actions =
        vec![" If you used the same password on another site, change it there too. ".to_owned()];
    let email = renderer()
        .breach_notice(
            &IncidentContext::new(&report),
            ada_at("ada@example.org"),
            "<job@candor.example>",
        )
        .unwrap();
    assert_eq!(
        email
            .text
            .matches("If you used the same password on another site")
            .count(),
        1,
        "{}",
        email.text
    );
    // Without a password, the advice is the member's only step.
    let notice = IncidentNotice::for_member(&report, Some(&held(&[DataClass::EmailAddress])));
    assert!(notice.password_steps.is_empty());
    assert_eq!(notice.recommended_actions.len(), 1);
}

#[test]
fn a_test_notice_is_marked_in_the_subject_and_both_parts() {
    let renderer = renderer();
    let email = renderer
        .test_breach_notice(
            &IncidentContext::new(&incident()),
            ada_at("operator@example.org"),
            "<test@candor.example>",
        )
        .unwrap();
    assert_eq!(email.subject, "[TEST] Notice of Data Breach");
    assert!(
        email
            .text
            .starts_with("[TEST] This is a test of the notice members will receive")
    );
    assert!(
        email
            .html
            .contains("<strong>[TEST]</strong> This is a test of the notice members will receive")
    );
    let member = notice("Ada", None);
    assert!(!member.text.contains("[TEST]") && !member.html.contains("[TEST]"));
}
