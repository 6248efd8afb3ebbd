//! Breach notices from events: one per affected account, with every section
//! and link, waiting for the forum thread link.

use std::time::Duration;

use candor_testkit::environment::TestEnvironment;
use candor_testkit::smtp::SmtpSink;

use crate::helpers::*;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn exactly_one_notice_per_affected_account_with_every_section_and_link() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(4);
    let unaffected = accounts(1);
    let thread = thread_opened(&id);

    publish(&environment, &incident).await;
    publish(&environment, &thread).await;
    // The fourth account is deactivated before its batch arrives.
    publish(&environment, &deactivated(&affected[3].account_id)).await;
    let pool = environment.database.pool();
    deactivation_recorded(pool, &affected[3].account_id).await;
    publish(&environment, &batch(&id, 1, &affected[..2])).await;
    publish(&environment, &batch(&id, 2, &affected[2..])).await;
    // A republished batch and a republished incident change nothing.
    publish(&environment, &batch(&id, 1, &affected[..2])).await;
    publish(&environment, &incident).await;

    eventually(LONG, "three sent and one suppressed", || async {
        let sent = count_jobs(pool, &id, "sent").await;
        let suppressed = count_jobs(pool, &id, "suppressed").await;
        (sent == 3 && suppressed == 1).then_some(())
    })
    .await;
    // Give a duplicate every chance to show up.
    publish(&environment, &batch(&id, 2, &affected[2..])).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    assert_eq!(
        sink.messages().len(),
        3,
        "one email per active affected account"
    );
    assert!(
        sink.messages_to(&affected[3].email).is_empty(),
        "deactivated"
    );
    assert!(
        sink.messages_to(&unaffected[0].email).is_empty(),
        "unaffected"
    );
    for account in &affected[..3] {
        let received = sink.messages_to(&account.email);
        assert_eq!(received.len(), 1, "{}", account.email);
        let message = &received[0];
        assert_eq!(
            message.header("Subject").as_deref(),
            Some("Notice of Data Breach")
        );
        assert_eq!(
            message.header("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert_eq!(
            message.header("Reply-To").as_deref(),
            Some("privacy@candor.example")
        );
        let message_id = message.header("Message-ID").unwrap();
        assert!(message_id.ends_with("@books.example>"), "{message_id}");
        let text = decoded_text(&message.text());
        for expected in [
            "What Happened",
            "What Information Was Involved",
            "What We Are Doing",
            "What You Can Do",
            "For More Information",
            &format!("Dear {},", account.display_name),
            "14 May 2025, 02:10 UTC",
            "20 May 2025, 16:45 UTC",
            "salted SHA-1 password hashes",
            "lifetime membership (worth $25)",
            "https://books.example/account/reset-password",
            "https://books.example/account/deactivate",
            &thread.url,
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
    }
    let deactivated_address: String =
        sqlx::query_scalar("SELECT to_address FROM email_jobs WHERE account_id = $1")
            .bind(uuid::Uuid::parse_str(&affected[3].account_id).unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        deactivated_address, "",
        "a deactivated account's address is erased"
    );
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_batch_before_its_incident_is_parked_not_guessed_then_sent() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 0;
    let service = start(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(3);

    publish(&environment, &batch(&id, 1, &affected)).await;
    let pool = environment.database.pool();
    eventually(LONG, "the batch parked", || async {
        let parked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM candor_parked_messages WHERE incident_id = $1",
        )
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap();
        (parked == 1).then_some(())
    })
    .await;
    assert_eq!(
        count_jobs(pool, &id, "queued").await,
        0,
        "no job before the incident"
    );

    publish(&environment, &incident).await;
    let messages = sink.wait_for(3, LONG).await;
    assert_eq!(messages.len(), 3);
    for account in &affected {
        assert_eq!(sink.messages_to(&account.email).len(), 1);
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn notices_wait_for_the_thread_link_and_carry_it() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let affected = accounts(3);

    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected)).await;
    let pool = environment.database.pool();
    jobs_reach(pool, &id, "queued", 3).await;
    // Deactivated while its notice waits in the send queue: the job is
    // suppressed, and the claim drops its queue row instead of sending.
    publish(&environment, &deactivated(&affected[2].account_id)).await;
    jobs_reach(pool, &id, "suppressed", 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sink.messages().is_empty(),
        "nothing goes out before the thread link"
    );

    let thread = thread_opened(&id);
    publish(&environment, &thread).await;
    let messages = sink.wait_for(2, LONG).await;
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert!(decoded_text(&message.text()).contains(&thread.url));
    }
    eventually(LONG, "the send queue empty", || async {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM email_queue")
            .fetch_one(pool)
            .await
            .unwrap();
        (left == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        sink.messages().len(),
        2,
        "nothing for the deactivated account"
    );
    assert!(sink.messages_to(&affected[2].email).is_empty());
    assert_eq!(count_jobs(pool, &id, "sent").await, 2);
    assert_eq!(count_jobs(pool, &id, "suppressed").await, 1);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_address_suppressed_while_its_notice_waits_is_not_sent() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let incident = incident();
    let id = incident.incident_id.clone();
    let mut affected = accounts(3);
    affected[0].email = "Mixed.Case@Example.org".to_owned();

    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &affected)).await;
    let pool = environment.database.pool();
    jobs_reach(pool, &id, "queued", 3).await;
    // A permanent failure elsewhere (another incident's notice, a
    // transactional email) put the address on the list after the job was
    // queued: the claim looks it up, whatever the case of the address.
    sqlx::query("INSERT INTO suppressed_addresses (address, reason) VALUES ($1, 'test: 550')")
        .bind("mixed.case@example.org")
        .execute(pool)
        .await
        .unwrap();

    let thread = thread_opened(&id);
    publish(&environment, &thread).await;
    jobs_reach(pool, &id, "sent", 2).await;
    jobs_reach(pool, &id, "suppressed", 1).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    assert!(sink.messages_to(&affected[0].email).is_empty());
    for message in &messages {
        assert!(decoded_text(&message.text()).contains(&thread.url));
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn after_the_wait_notices_go_without_the_link_and_the_report_says_so() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let mut settings = config(&environment, &sink.url());
    settings.thread_link_wait_seconds = 1;
    let service = start(settings).await;
    let incident = incident();
    let id = incident.incident_id.clone();

    publish(&environment, &incident).await;
    publish(&environment, &batch(&id, 1, &accounts(2))).await;
    publish(&environment, &enumeration_completed(&id, 2, 1)).await;
    let messages = sink.wait_for(2, LONG).await;
    assert_eq!(messages.len(), 2);
    assert!(!decoded_text(&messages[0].text()).contains("forum thread"));

    let client = client(&service).await;
    let progress = progress_when(&client, &id, LONG, "a complete report", |progress| {
        progress.complete
    })
    .await;
    assert_eq!(progress.sent, 2);
    assert_eq!(progress.sent_without_thread_link, 2);
    assert_eq!(progress.expected_total, 2);
    assert!(progress.incident_known && progress.enumeration_complete);
    service.stop().await.unwrap();
}

#[tokio::test]
async fn an_invalid_breach_report_is_dead_lettered_and_records_nothing() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut incident = incident();
    incident.title = String::new();
    publish(&environment, &incident).await;
    let dead = environment
        .broker
        .wait_for_dead_letters("notification", 1, LONG)
        .await
        .unwrap();
    let reason = dead[0].header("x-candor-error").unwrap_or_default();
    assert!(reason.contains("title"), "{reason}");
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(environment.database.pool())
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    service.stop().await.unwrap();
}

/// The message with quoted-printable soft line breaks and `=XX` escapes
/// undone, so assertions can look for whole phrases.
pub fn decoded_text(raw: &str) -> String {
    let unfolded = raw.replace("=\r\n", "");
    let bytes = unfolded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'='
            && index + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&unfolded[index + 1..index + 3], 16)
        {
            decoded.push(byte);
            index += 3;
            continue;
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
