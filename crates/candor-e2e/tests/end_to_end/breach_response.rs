//! One breach event in, every promised effect out, exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use candor_e2e::stack::{Stack, StackOptions};
use candor_platform::messaging::ServiceQueue;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::account::v1::{
    ConfirmDeactivationRequest, ImportRecord, LoginRequest, RequestDeactivationRequest,
    RequestPasswordResetRequest, ResetPasswordRequest, login_response,
};
use candor_proto::forum::v1::GetIncidentThreadRequest;
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::membership::v1::{GetMembershipRequest, ListCreditsRequest, Tier};
use candor_testkit::metrics::scrape;
use candor_testkit::poll::eventually;
use candorctl::commands::accounts::{seed, stream};
use candorctl::commands::breach;
use candorctl::commands::incident::progress::IncidentSnapshot;
use candorctl::commands::incident::report;
use candorctl::notice::{self, NoticeFlags};
use tonic::transport::Channel;

use crate::mail::{self, Email};

const MEMBERS: u64 = 2000;
/// Every 40th member has no email address: affected all the same (no
/// email; their notice is kept for them in the product).
const WITHOUT_EMAIL_EVERY: u64 = 40;
const NEW_PASSWORD: &str = "a brand new passphrase for 2025";

fn example_notice() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/breach.toml")
}

fn channel(stack: &Stack, url: &str) -> Channel {
    stack.channel(url).unwrap()
}

fn members(domain: &str) -> Vec<ImportRecord> {
    let cutoff = candorctl::notice::file::parse_time("2011-11-01").unwrap();
    seed::members(MEMBERS, cutoff, 0.6, domain.to_owned(), 2025)
        .map(|mut member| {
            if member.line_number % WITHOUT_EMAIL_EVERY == 0 {
                member.email.clear();
            }
            member
        })
        .collect()
}

async fn login(
    stack: &Stack,
    email: &str,
    password: &str,
) -> Result<login_response::Result, tonic::Status> {
    let mut accounts = AccountServiceClient::new(channel(stack, &stack.endpoints.account_grpc_url));
    let response = accounts
        .login(LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        })
        .await?;
    Ok(response.into_inner().result.expect("a login result"))
}

/// The newest email to `address` (not a breach notice) whose text mentions
/// `word`.
async fn email_to(stack: &Stack, address: &str, word: &str) -> Email {
    eventually(
        Duration::from_secs(60),
        &format!("an email to {address} about {word}"),
        || async {
            stack
                .mailbox
                .messages_to(address)
                .await
                .unwrap()
                .iter()
                .map(mail::decode)
                .rfind(|email| {
                    !email.subject.contains("Notice of Data Breach")
                        && email.text.to_ascii_lowercase().contains(word)
                })
        },
    )
    .await
}

/// Deactivates the member as they would: login, request, the emailed link.
async fn deactivate(stack: &Stack, email: &str) {
    let session = match login(stack, email, seed::DEMO_PASSWORD).await.unwrap() {
        login_response::Result::Session(session) => session,
        other => panic!("expected a session, got {other:?}"),
    };
    let mut request = tonic::Request::new(RequestDeactivationRequest {});
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", session.session_token).parse().unwrap(),
    );
    AccountServiceClient::new(channel(stack, &stack.endpoints.account_grpc_url))
        .request_deactivation(request)
        .await
        .unwrap();
    let confirmation = email_to(stack, email, "deactivat").await;
    let token = mail::token_in_link(&confirmation.text, &stack.public_base_url, "deactivat")
        .expect("the confirmation email has a deactivation link");
    AccountServiceClient::new(channel(stack, &stack.endpoints.account_grpc_url))
        .confirm_deactivation(ConfirmDeactivationRequest {
            deactivation_token: token,
        })
        .await
        .unwrap();
}

async fn breach_notices(stack: &Stack) -> Vec<Email> {
    stack
        .mailbox
        .messages()
        .await
        .unwrap()
        .iter()
        .map(mail::decode)
        .filter(|email| email.subject.contains("Notice of Data Breach"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_breach_event_drives_every_promised_effect_exactly_once() {
    candor_testkit::tracing::init();
    let stack = Stack::start().await.unwrap();
    drive_one_breach(&stack).await;
    stack.stop().await.unwrap();
}

/// The same breach with two replicas of every service sharing their
/// databases and queues, as `docker compose up --scale` or a Deployment
/// with two replicas runs them: the outcomes are exactly those of one
/// replica, and the work was shared (both notification replicas sent
/// notices, both membership replicas applied batches of affected accounts).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_of_every_service_share_the_work_exactly_once() {
    candor_testkit::tracing::init();
    if std::env::var_os(candor_e2e::stack::ENDPOINTS_VAR).is_some() {
        eprintln!("checking a running deployment: the in-process replica run is not made");
        return;
    }
    let stack = Stack::in_process_with(StackOptions {
        replicas: 2,
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let notification = stack.metrics_addrs(ServiceQueue::Notification);
    let membership = stack.metrics_addrs(ServiceQueue::Membership);
    assert_eq!((notification.len(), membership.len()), (2, 2));

    drive_one_breach(&stack).await;

    // Each notification replica sent part of the notices, and together
    // exactly what the mailbox holds (notices, the leaver's confirmation
    // and the reset email; no retries against the sink).
    let mut sent_per_replica = Vec::new();
    for addr in &notification {
        let scrape = scrape(*addr).await.unwrap();
        sent_per_replica.push(
            scrape
                .value("candor_notification_notices_sent_total", &[])
                .unwrap_or_default(),
        );
    }
    let emails = stack.mailbox.messages().await.unwrap().len();
    assert!(
        sent_per_replica.iter().all(|sent| *sent > 0.0),
        "both notification replicas sent: {sent_per_replica:?}"
    );
    assert_eq!(
        sent_per_replica.iter().sum::<f64>(),
        emails as f64,
        "the replicas sent {sent_per_replica:?}, the mailbox holds {emails}"
    );
    // Each membership replica applied batches of affected accounts.
    for addr in &membership {
        let scrape = scrape(*addr).await.unwrap();
        let applied: f64 = scrape
            .samples("candor_messages_consumed_total")
            .filter(|sample| {
                sample.has_labels(&[
                    ("routing_key", "breach.accounts_affected"),
                    ("outcome", "acked"),
                ])
            })
            .map(|sample| sample.value)
            .sum();
        assert!(
            applied > 0.0,
            "membership replica at {addr} applied no batch"
        );
    }
    stack.stop().await.unwrap();
}

/// The same breach with every gRPC port serving mutual TLS, as
/// `deploy/compose.tls.yml` runs it: every call between the services (the
/// account service's emails through the notification service, the others'
/// calls to the account service) and every call from candorctl and this
/// test goes over verified TLS with a client certificate. An in-process
/// stack only: against a deployment (`CANDOR_E2E_ENDPOINTS`) the test above
/// checks that deployment, over TLS when its URLs are `https://`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_breach_response_works_over_mutual_tls() {
    candor_testkit::tracing::init();
    if std::env::var_os(candor_e2e::stack::ENDPOINTS_VAR).is_some() {
        eprintln!("checking a running deployment: the in-process mutual TLS run is not made");
        return;
    }
    let stack = Stack::in_process_over_mutual_tls().await.unwrap();
    assert!(stack.endpoints.account_grpc_url.starts_with("https://"));
    drive_one_breach(&stack).await;
    stack.stop().await.unwrap();
}

async fn drive_one_breach(stack: &Stack) {
    // Names of this run, so a shared deployment can be checked repeatedly.
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let incident_id = format!("e2e-{run}");
    let incident_id = incident_id.as_str();
    let domain = format!("run-{run}.readers.example");

    // The member base: mixed join dates, some without email, one deactivated.
    let members = members(&domain);
    let summary = stream::import(&stack.endpoints, members.clone().into_iter(), None)
        .await
        .unwrap();
    assert_eq!(
        summary.imported, MEMBERS,
        "rejections: {:?}",
        summary.rejections
    );

    let cutoff_seconds = 1_320_105_600; // 2011-11-01T00:00:00Z, the example notice's cutoff
    let joined_before = |member: &ImportRecord| member.joined_at.unwrap().seconds < cutoff_seconds;
    let leaver = members
        .iter()
        .find(|member| joined_before(member) && !member.email.is_empty())
        .unwrap()
        .email
        .clone();
    deactivate(stack, &leaver).await;

    let expected: BTreeSet<String> = members
        .iter()
        .filter(|member| {
            joined_before(member) && !member.email.is_empty() && member.email != leaver
        })
        .map(|member| member.email.clone())
        .collect();
    let without_email = members
        .iter()
        .filter(|member| joined_before(member) && member.email.is_empty())
        .count() as u64;
    assert!(without_email > 10, "some affected members have no address");
    let unaffected: Vec<&ImportRecord> = members
        .iter()
        .filter(|member| !joined_before(member) && !member.email.is_empty())
        .collect();
    assert!(
        expected.len() > 1000 && unaffected.len() > 500,
        "a meaningful split"
    );

    // The operator reports the breach (the example notice, LibraryThing-style).
    let flags = NoticeFlags {
        incident_id: Some(incident_id.to_owned()),
        ..NoticeFlags::default()
    };
    let breach_event = notice::load(Some(&example_notice()), &flags, SystemTime::now()).unwrap();
    breach::publish(&breach_event, &stack.endpoints)
        .await
        .unwrap();

    // Every channel completes.
    let snapshot = eventually(
        Duration::from_secs(300),
        "every channel complete",
        || async {
            let snapshot = IncidentSnapshot::fetch(&stack.endpoints, incident_id).await;
            snapshot.complete().then_some(snapshot)
        },
    )
    .await;
    assert!(snapshot.unreachable().is_empty());

    // Exactly one honest email per affected member, none for anyone else.
    let notices: Vec<Email> = breach_notices(stack)
        .await
        .into_iter()
        .filter(|notice| {
            notice
                .to
                .iter()
                .any(|to| to.ends_with(&format!("@{domain}")))
        })
        .collect();
    let mut per_address: BTreeMap<String, usize> = BTreeMap::new();
    for notice in &notices {
        for to in &notice.to {
            *per_address.entry(to.clone()).or_default() += 1;
        }
    }
    let received: BTreeSet<String> = per_address.keys().cloned().collect();
    assert_eq!(
        received, expected,
        "notices went to exactly the affected members"
    );
    assert!(
        per_address.values().all(|count| *count == 1),
        "one notice each"
    );
    let thread = ForumServiceClient::new(channel(stack, &stack.endpoints.forum_grpc_url))
        .get_incident_thread(GetIncidentThreadRequest {
            incident_id: incident_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    assert!(thread.pinned, "the incident thread is pinned");
    assert!(
        thread.url.starts_with(&stack.public_base_url),
        "{}",
        thread.url
    );
    for notice in notices.iter().take(50) {
        let text = &notice.text;
        let lower = text.to_lowercase();
        for heading in [
            "what happened",
            "what information was involved",
            "what we are doing",
            "what you can do",
            "for more information",
        ] {
            assert!(
                lower.contains(heading),
                "the notice has {heading:?}: {text}"
            );
        }
        assert!(
            text.contains(&thread.url),
            "the notice links the thread: {text}"
        );
        assert!(
            mail::links(text, &stack.public_base_url)
                .iter()
                .any(|link| link.to_ascii_lowercase().contains("reset")),
            "the notice links the password reset: {text}"
        );
        assert!(text.contains("2025"), "the notice says when: {text}");
        assert!(
            notice.headers.contains("Auto-Submitted: auto-generated"),
            "{}",
            notice.headers
        );
        assert!(
            notice.html.contains("What Happened"),
            "the HTML part has the sections too"
        );
        assert!(
            notice.html.contains(&thread.url),
            "the HTML part links the thread"
        );
    }

    // Every affected member is LIFETIME with exactly one ledger entry for it.
    let mut accounts_by_email = BTreeMap::new();
    let mut page_token = String::new();
    let mut accounts = AccountServiceClient::with_interceptor(
        channel(stack, &stack.endpoints.account_grpc_url),
        candor_platform::auth::OutgoingInterceptor::with_token(
            &candor_testkit::environment::OPERATOR_TOKEN.into(),
        )
        .unwrap(),
    );
    loop {
        let page = accounts
            .list_affected_accounts(candor_proto::account::v1::ListAffectedAccountsRequest {
                incident_id: incident_id.to_owned(),
                page_size: 1000,
                page_token: page_token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        for entry in page.accounts {
            let account = entry.account.unwrap();
            if account.email.ends_with(&format!("@{domain}")) {
                accounts_by_email.insert(account.email.clone(), account.account_id.clone());
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        accounts_by_email.keys().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    let operator = candor_platform::auth::OutgoingInterceptor::with_token(
        &candor_testkit::environment::OPERATOR_TOKEN.into(),
    )
    .unwrap();
    let mut memberships_as_operator = MembershipServiceClient::with_interceptor(
        channel(stack, &stack.endpoints.membership_grpc_url),
        operator,
    );
    for account_id in accounts_by_email.values() {
        let membership = memberships_as_operator
            .get_membership(GetMembershipRequest {
                account_id: account_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .membership
            .unwrap();
        assert_eq!(membership.tier(), Tier::Lifetime, "{account_id}");
        let credits = memberships_as_operator
            .list_credits(ListCreditsRequest {
                account_id: account_id.clone(),
                incident_id: incident_id.to_owned(),
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .credits;
        assert_eq!(
            credits.len(),
            1,
            "exactly one ledger entry for {account_id}"
        );
    }

    // An affected member's old password no longer works; the reset flow does.
    let affected = expected.iter().next().unwrap().clone();
    let refused = login(stack, &affected, seed::DEMO_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    AccountServiceClient::new(channel(stack, &stack.endpoints.account_grpc_url))
        .request_password_reset(RequestPasswordResetRequest {
            email: affected.clone(),
        })
        .await
        .unwrap();
    let reset_email = email_to(stack, &affected, "reset").await;
    let reset_token = mail::token_in_link(&reset_email.text, &stack.public_base_url, "reset")
        .expect("the reset email has a reset link");
    AccountServiceClient::new(channel(stack, &stack.endpoints.account_grpc_url))
        .reset_password(ResetPasswordRequest {
            reset_token,
            new_password: NEW_PASSWORD.to_owned(),
        })
        .await
        .unwrap();
    assert!(matches!(
        login(stack, &affected, NEW_PASSWORD).await.unwrap(),
        login_response::Result::Session(_)
    ));

    // Reporting the same incident again changes nothing anywhere.
    let before = report::build(&stack.endpoints, incident_id).await;
    // The report's JSON is snake_case throughout, enum values included.
    let json = serde_json::to_value(&before).unwrap();
    assert_eq!(json["incident"]["incident_id"], incident_id);
    assert!(json["incident"]["password_reset_scope"].is_string());
    let text = json.to_string();
    assert!(
        !text.contains("incidentId") && !text.contains("PASSWORD_RESET_SCOPE_"),
        "{text}"
    );
    let markdown = report::markdown(&before);
    assert!(!markdown.contains("PASSWORD_RESET_SCOPE_"), "{markdown}");
    let emails_before = stack.mailbox.messages().await.unwrap().len();
    breach::publish(&breach_event, &stack.endpoints)
        .await
        .unwrap();
    // Give every consumer time to see the duplicate; nothing may follow it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = report::build(&stack.endpoints, incident_id).await;
    assert_eq!(
        stack.mailbox.messages().await.unwrap().len(),
        emails_before,
        "no new emails"
    );
    assert_eq!(
        serde_json_counts(&before),
        serde_json_counts(&after),
        "no counts changed"
    );
    assert_eq!(before.forum_thread_url, after.forum_thread_url);

    // The report's counts match what happened.
    let emails = after.emails.as_ref().unwrap();
    assert_eq!(emails.sent, expected.len() as u64);
    assert_eq!(emails.failed, 0);
    assert_eq!(emails.no_email_address, without_email);
    assert_eq!(emails.suppressed, without_email);
    let credits = after.credits.as_ref().unwrap();
    assert_eq!(
        credits.credited + credits.already_lifetime,
        expected.len() as u64 + without_email,
        "members without an address are credited too"
    );
    assert_eq!(
        after.accounts.as_ref().unwrap().affected,
        expected.len() as u64 + without_email
    );
    // Members without an address are told in the product; everyone with one
    // got the email.
    let reach = after.regulator.reach.as_ref().unwrap();
    assert_eq!(reach.in_app_raised, without_email);
    assert_eq!(reach.members_reached, expected.len() as u64);
    assert_eq!(reach.members_not_reached, without_email);
    assert_eq!(after.forum_thread_url.as_deref(), Some(thread.url.as_str()));

    // Unaffected members got nothing and stay FREE.
    for member in unaffected.iter().take(20) {
        assert!(
            stack
                .mailbox
                .messages_to(&member.email)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            member.email
        );
    }
}

/// The parts of a report that must not move when an incident is replayed
/// (the generated-at time and the reset counter legitimately do).
fn serde_json_counts(
    report: &report::IncidentReport,
) -> (Option<u64>, Option<u64>, Option<u64>, Option<u64>) {
    (
        report.accounts.as_ref().map(|accounts| accounts.affected),
        report
            .emails
            .as_ref()
            .map(|emails| emails.sent + emails.failed + emails.suppressed),
        report
            .credits
            .as_ref()
            .map(|credits| credits.credited + credits.already_lifetime),
        report.emails.as_ref().map(|emails| emails.expected),
    )
}
