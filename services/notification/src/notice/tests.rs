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
        "https://candor.example/account/password-reset",
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
