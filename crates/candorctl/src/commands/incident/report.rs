//! `candorctl incident report ID`: what an operator hands to a regulator —
//! the incident as reported, a timeline, counts per channel, failures with
//! reasons and the discussion thread — as Markdown or JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_proto::notification::v1::{DeliveryState, ListDeliveriesRequest};
use serde::Serialize;

use super::progress::IncidentSnapshot;
use crate::commands::EXIT_UNREACHABLE;
use crate::endpoints::Endpoints;
use crate::output::{self, OutputArgs, names};
use crate::timefmt::rfc3339;

/// Failed deliveries listed in a report at most; the counts stay exact.
const MAX_LISTED_FAILURES: usize = 1000;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The incident id, as reported.
    pub incident_id: String,
    /// `table` is the Markdown report (also `-o markdown`).
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Serialize, Default)]
pub struct IncidentReport {
    pub incident_id: String,
    pub generated_at: String,
    /// The `BreachReported` as the account service recorded it (snake_case
    /// keys, short enum values such as `all`).
    pub incident: Option<serde_json::Value>,
    pub timeline: Timeline,
    pub accounts: Option<AccountCounts>,
    pub emails: Option<EmailCounts>,
    pub credits: Option<CreditCounts>,
    pub forum_thread_url: Option<String>,
    pub failures: Vec<Failure>,
    pub unreachable: Vec<Unreachable>,
}

#[derive(Debug, Serialize, Default)]
pub struct Timeline {
    pub reported_at: Option<String>,
    pub enumeration_completed_at: Option<String>,
    pub thread_opened_at: Option<String>,
    pub first_email_sent_at: Option<String>,
    pub last_email_sent_at: Option<String>,
    pub credits_completed_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountCounts {
    pub affected: u64,
    pub passwords_invalidated: u64,
    pub other_accounts_change_required: u64,
    pub sessions_revoked: u64,
    pub passwords_reset_since: u64,
    pub deactivated_since: u64,
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct EmailCounts {
    pub expected: u64,
    pub sent: u64,
    pub failed: u64,
    pub suppressed: u64,
    pub queued: u64,
    pub sending: u64,
    pub sent_without_thread_link: u64,
    pub possibly_resent: u64,
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct CreditCounts {
    pub expected: u64,
    pub credited: u64,
    pub already_lifetime: u64,
    pub skipped: u64,
    pub complete: bool,
}

impl From<&candor_proto::account::v1::GetIncidentProgressResponse> for AccountCounts {
    fn from(progress: &candor_proto::account::v1::GetIncidentProgressResponse) -> Self {
        Self {
            affected: progress.affected_accounts,
            passwords_invalidated: progress.passwords_invalidated,
            other_accounts_change_required: progress.other_accounts_change_required,
            sessions_revoked: progress.sessions_revoked,
            passwords_reset_since: progress.passwords_reset_since,
            deactivated_since: progress.deactivated_since,
            complete: progress.complete,
        }
    }
}

impl From<&candor_proto::notification::v1::GetIncidentProgressResponse> for EmailCounts {
    fn from(progress: &candor_proto::notification::v1::GetIncidentProgressResponse) -> Self {
        Self {
            expected: progress.expected_total,
            sent: progress.sent,
            failed: progress.failed,
            suppressed: progress.suppressed,
            queued: progress.queued,
            sending: progress.sending,
            sent_without_thread_link: progress.sent_without_thread_link,
            possibly_resent: progress.possibly_resent,
            complete: progress.complete,
        }
    }
}

impl From<&candor_proto::membership::v1::GetIncidentProgressResponse> for CreditCounts {
    fn from(progress: &candor_proto::membership::v1::GetIncidentProgressResponse) -> Self {
        Self {
            expected: progress.expected_total,
            credited: progress.credited,
            already_lifetime: progress.already_lifetime,
            skipped: progress.skipped,
            complete: progress.complete,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub account_id: String,
    pub to_address: String,
    pub attempts: u32,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Unreachable {
    pub service: String,
    pub error: String,
}

impl Unreachable {
    /// Every service of `snapshot` that could not answer.
    pub fn all(snapshot: &IncidentSnapshot) -> Vec<Self> {
        snapshot
            .unreachable()
            .into_iter()
            .map(|(service, error)| Self {
                service: service.to_owned(),
                error: error.to_owned(),
            })
            .collect()
    }
}

pub async fn run(args: ReportArgs, endpoints: &Endpoints) -> ExitCode {
    let report = build(endpoints, &args.incident_id).await;
    output::emit(args.output.output, &report, markdown);
    if report.unreachable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNREACHABLE)
    }
}

pub async fn build(endpoints: &Endpoints, incident_id: &str) -> IncidentReport {
    let snapshot = IncidentSnapshot::fetch(endpoints, incident_id).await;
    let mut report = IncidentReport {
        incident_id: incident_id.to_owned(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        unreachable: Unreachable::all(&snapshot),
        ..IncidentReport::default()
    };
    if let Ok(progress) = &snapshot.account {
        report.incident = progress
            .incident
            .as_ref()
            .and_then(|incident| candor_proto::encode_snake_json(incident).ok());
        report.timeline.reported_at = progress.recorded_at.as_ref().map(rfc3339);
        report.timeline.enumeration_completed_at =
            progress.enumeration_completed_at.as_ref().map(rfc3339);
        report.accounts = Some(AccountCounts::from(progress));
    }
    if let Ok(progress) = &snapshot.notification {
        report.timeline.first_email_sent_at = progress.first_sent_at.as_ref().map(rfc3339);
        report.timeline.last_email_sent_at = progress.last_sent_at.as_ref().map(rfc3339);
        report.emails = Some(EmailCounts::from(progress));
        if progress.failed > 0 {
            match failures(endpoints, incident_id).await {
                Ok(failures) => report.failures = failures,
                Err(error) => report.unreachable.push(Unreachable {
                    service: "notification".to_owned(),
                    error: format!(
                        "listing failed deliveries: {}",
                        crate::errors::describe_anyhow(&error)
                    ),
                }),
            }
        }
    }
    if let Ok(progress) = &snapshot.membership {
        report.timeline.credits_completed_at = progress.completed_at.as_ref().map(rfc3339);
        report.credits = Some(CreditCounts::from(progress));
    }
    if let Ok(Some(thread)) = &snapshot.forum {
        report.forum_thread_url = Some(thread.url.clone());
        report.timeline.thread_opened_at = thread.created_at.as_ref().map(rfc3339);
    }
    report
}

async fn failures(endpoints: &Endpoints, incident_id: &str) -> anyhow::Result<Vec<Failure>> {
    let mut client = NotificationServiceClient::new(
        endpoints.operator_channel(&endpoints.notification_grpc_url)?,
    );
    let mut failures = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_deliveries(ListDeliveriesRequest {
                incident_id: incident_id.to_owned(),
                state: DeliveryState::Failed as i32,
                page_size: 1000,
                page_token: page_token.clone(),
                ..ListDeliveriesRequest::default()
            })
            .await?
            .into_inner();
        failures.extend(page.deliveries.into_iter().map(|delivery| Failure {
            account_id: delivery.account_id,
            to_address: delivery.to_address,
            attempts: delivery.attempts,
            reason: delivery.last_error,
        }));
        if page.next_page_token.is_empty() || failures.len() >= MAX_LISTED_FAILURES {
            failures.truncate(MAX_LISTED_FAILURES);
            return Ok(failures);
        }
        page_token = page.next_page_token;
    }
}

/// "email addresses, password hashes (salted SHA-1)" from the incident's
/// `data_classes`.
fn data_taken(incident: &serde_json::Value) -> String {
    let classes = incident
        .get("data_classes")
        .and_then(|classes| classes.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let named: Vec<String> = classes
        .iter()
        .map(|taken| {
            let class = taken
                .get("data_class")
                .and_then(|class| class.as_str())
                .unwrap_or_default();
            let name = names::from_short_name("DataClass", class);
            match taken.get("description").and_then(|text| text.as_str()) {
                Some(description) if !description.is_empty() => format!("{name} ({description})"),
                _ => name,
            }
        })
        .collect();
    if named.is_empty() {
        "—".to_owned()
    } else {
        named.join(", ")
    }
}

/// The report as Markdown for people and regulators.
pub fn markdown(report: &IncidentReport) -> String {
    let mut out = String::new();
    let none = "—".to_owned();
    let _ = writeln!(out, "# Incident report: {}\n", report.incident_id);
    let _ = writeln!(out, "Generated {}.\n", report.generated_at);
    if !report.unreachable.is_empty() {
        let _ = writeln!(out, "> Incomplete: these services could not be asked:");
        for service in &report.unreachable {
            let _ = writeln!(out, "> - {}: {}", service.service, service.error);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## The incident as reported\n");
    match &report.incident {
        Some(incident) => {
            let field = |name: &str| {
                incident
                    .get(name)
                    .and_then(|value| value.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            let _ = writeln!(out, "**{}**\n", field("title"));
            let _ = writeln!(out, "{}\n", field("summary"));
            let _ = writeln!(out, "- Occurred: {}", field("occurred_at"));
            let _ = writeln!(out, "- Discovered: {}", field("discovered_at"));
            let _ = writeln!(
                out,
                "- Members affected: joined before {}",
                field("affected_joined_before")
            );
            let _ = writeln!(out, "- Data taken: {}", data_taken(incident));
            let _ = writeln!(
                out,
                "- Must change their password: {}",
                names::from_short_name("PasswordResetScope", &field("password_reset_scope"))
            );
            if let Some(kind) = incident
                .get("compensation")
                .and_then(|compensation| compensation.get("kind"))
                .and_then(|kind| kind.as_str())
            {
                let _ = writeln!(
                    out,
                    "- Compensation: {}",
                    names::from_short_name("CompensationKind", kind)
                );
            }
            let _ = writeln!(
                out,
                "\n```json\n{}\n```\n",
                serde_json::to_string_pretty(incident).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(out, "Not recorded by the account service.\n");
        }
    }
    let timeline = &report.timeline;
    let _ = writeln!(out, "## Timeline (UTC)\n");
    let _ = writeln!(out, "| event | time |\n| --- | --- |");
    for (event, time) in [
        ("reported (recorded by account)", &timeline.reported_at),
        (
            "affected accounts enumerated",
            &timeline.enumeration_completed_at,
        ),
        ("forum thread opened", &timeline.thread_opened_at),
        ("first email sent", &timeline.first_email_sent_at),
        ("last email sent", &timeline.last_email_sent_at),
        ("credits finished", &timeline.credits_completed_at),
    ] {
        let _ = writeln!(out, "| {event} | {} |", time.as_ref().unwrap_or(&none));
    }
    let _ = writeln!(out, "\n## Counts\n");
    if let Some(accounts) = &report.accounts {
        let _ = writeln!(
            out,
            "- Accounts: {} affected; {} passwords invalidated; {} other accounts must change their password; {} sessions revoked; {} passwords reset since; {} deactivated since{}",
            accounts.affected,
            accounts.passwords_invalidated,
            accounts.other_accounts_change_required,
            accounts.sessions_revoked,
            accounts.passwords_reset_since,
            accounts.deactivated_since,
            if accounts.complete {
                ""
            } else {
                " (enumeration not finished)"
            }
        );
    }
    if let Some(emails) = &report.emails {
        let _ = writeln!(
            out,
            "- Emails: {} sent of {} expected; {} failed; {} suppressed; {} still queued or sending; {} sent without the forum link; {} possibly sent twice after a crash{}",
            emails.sent,
            emails.expected,
            emails.failed,
            emails.suppressed,
            emails.queued + emails.sending,
            emails.sent_without_thread_link,
            emails.possibly_resent,
            if emails.complete {
                ""
            } else {
                " (not finished)"
            }
        );
    }
    if let Some(credits) = &report.credits {
        let _ = writeln!(
            out,
            "- Credits: {} granted; {} already held a lifetime membership; {} skipped (deactivated) of {} expected{}",
            credits.credited,
            credits.already_lifetime,
            credits.skipped,
            credits.expected,
            if credits.complete {
                ""
            } else {
                " (not finished)"
            }
        );
    }
    let _ = writeln!(
        out,
        "- Forum thread: {}",
        report
            .forum_thread_url
            .as_ref()
            .unwrap_or(&"not opened".to_owned())
    );
    if !report.failures.is_empty() {
        let _ = writeln!(out, "\n## Failed emails\n");
        let _ = writeln!(
            out,
            "| account | address | attempts | reason |\n| --- | --- | --- | --- |"
        );
        for failure in &report.failures {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                failure.account_id,
                failure.to_address,
                failure.attempts,
                failure.reason.replace('|', "\\|")
            );
        }
    }
    out
}
