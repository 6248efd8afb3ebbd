//! The notice rendered from the README's real incident.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const INCIDENT_JSON: &str =
    include_str!("../../../../crates/candor-proto/tests/data/breach_reported.json");

fn incident() -> BreachReported {
    candor_proto::decode_json(INCIDENT_JSON.as_bytes()).unwrap()
}

fn renderer() -> Arc<Renderer> {
    Renderer::new(
        "Candor Books <notices@candor.example>",
        "https://candor.example/",
    )
    .unwrap()
}

fn notice(display_name: &str, thread_url: Option<&str>) -> RenderedEmail {
    let renderer = renderer();
    let context = IncidentContext::new(&incident());
    renderer
        .breach_notice(
            &context,
            NoticeRecipient {
                display_name,
                to_address: "reader@example.org",
                thread_url,
            },
            "<job@candor.example>",
        )
        .unwrap()
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
    let result = renderer.breach_notice(
        &context,
        NoticeRecipient {
            display_name: "x",
            to_address: "not an address",
            thread_url: None,
        },
        "<a@b>",
    );
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
    for thread_url in [Some("https://candor.example/forum/threads/t1"), None] {
        let prepared = renderer
            .prepare_breach_notice(&context, thread_url)
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
        .prepare_breach_notice(&IncidentContext::new(&incident()), None)
        .unwrap();
    let result = prepared.format("Ada", "not an address", "<job@candor.example>");
    assert!(matches!(result, Err(RenderError::InvalidAddress(_))));
}
