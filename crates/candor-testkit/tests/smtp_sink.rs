//! The SMTP sink speaks real SMTP: a real client (lettre) delivers to it, and
//! refusals come back as the SMTP codes a mail server would send.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use candor_testkit::smtp::{Refusal, SmtpSink};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

fn transport(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(sink.addr().ip().to_string())
        .port(sink.addr().port())
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn message(to: &str, subject: &str) -> Message {
    Message::builder()
        .from("Candor <notices@candor.example>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body("What happened: a test.".to_owned())
        .unwrap()
}

#[tokio::test]
async fn records_every_message_with_envelope_headers_and_body() {
    let sink = SmtpSink::start().unwrap();
    let transport = transport(&sink);
    transport
        .send(message("ada@example.org", "Notice of Data Breach"))
        .await
        .unwrap();
    transport
        .send(message("bob@example.org", "Second"))
        .await
        .unwrap();

    let messages = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 2);
    let to_ada = sink.messages_to("ada@example.org");
    assert_eq!(to_ada.len(), 1);
    assert_eq!(to_ada[0].from, "notices@candor.example");
    assert_eq!(
        to_ada[0].header("Subject").as_deref(),
        Some("Notice of Data Breach")
    );
    assert!(to_ada[0].text().contains("What happened: a test."));
}

#[tokio::test]
async fn refuses_chosen_recipients_temporarily_or_permanently() {
    let sink = SmtpSink::start().unwrap();
    let transport = transport(&sink);
    sink.refuse("busy@example.org", Refusal::Temporary);
    sink.refuse("gone@example.org", Refusal::Permanent);

    let busy = transport
        .send(message("busy@example.org", "x"))
        .await
        .unwrap_err();
    assert!(busy.is_transient(), "450 is transient: {busy}");
    let gone = transport
        .send(message("gone@example.org", "x"))
        .await
        .unwrap_err();
    assert!(gone.is_permanent(), "550 is permanent: {gone}");
    assert!(sink.messages().is_empty());

    sink.accept("busy@example.org");
    transport
        .send(message("busy@example.org", "x"))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}
