//! `candorctl incident report ID`: what an operator hands to a regulator —
//! the incident as reported, its outcome, a timeline, counts per channel,
//! the regulator's view (the 72-hour clock, members reached by channel),
//! failures with reasons and the discussion thread — as Markdown or JSON,
//! and with `--csv FILE` every member's outcome per channel.
//! Exit 0 only when the incident is complete (as `incident status`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::failures::{self, Failure, FailureGroupEntry};
use super::outcome::Outcome;
use super::progress::IncidentSnapshot;
use super::regulator::{self, RegulatorView};
use crate::commands::{EXIT_NOT_OK, EXIT_UNREACHABLE};
use crate::endpoints::Endpoints;
use crate::output::{self, OutputArgs, names};
use crate::timefmt::rfc3339;

/// Failed deliveries listed in a report at most; the counts stay exact.
const MAX_LISTED_FAILURES: usize = 1000;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The incident id, as reported.
    pub incident_id: String,
    /// Also write every affected member's outcome per channel to this file
    /// as CSV (account_id,channel,outcome,time; no address, no password
    /// data), for the regulator. `-` writes it to standard output instead
    /// of the report.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// `table` is the Markdown report (also `-o markdown`).
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Serialize, Default)]
pub struct IncidentReport {
    pub incident_id: String,
    pub generated_at: String,
    /// `complete`, `finished_with_failures`, `in_progress`, `not_known` or
    /// `unreachable` (see [`Outcome::name`]).
    pub outcome: String,
    /// The services that have not recorded the incident.
    pub not_known_to: Vec<String>,
    /// The `BreachReported` as the account service recorded it (snake_case
    /// keys, short enum values such as `all`).
    pub incident: Option<serde_json::Value>,
    pub timeline: Timeline,
    pub accounts: Option<AccountCounts>,
    pub emails: Option<EmailCounts>,
    pub credits: Option<CreditCounts>,
    pub forum_thread_url: Option<String>,
    /// The 72-hour clock and the members reached, by channel.
    pub regulator: RegulatorView,
    /// Failed emails by class and reason, largest first.
    pub failure_groups: Vec<FailureGroupEntry>,
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
    /// Of `failed`, those `candorctl incident retry-failed` queues again.
    pub failed_retryable: u64,
    pub suppressed: u64,
    /// Of `suppressed`, members without an email address.
    pub no_email_address: u64,
    /// Reported undeliverable by the member's provider after acceptance.
    pub bounced: u64,
    /// Delivered, then reported as spam by the member.
    pub complained: u64,
    /// Queued or sending.
    pub pending: u64,
    pub queued: u64,
    pub sending: u64,
    /// Of `queued`, those waiting for another attempt.
    pub retrying: u64,
    /// Every expected email is final (sent, failed or suppressed).
    pub settled: bool,
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
            failed_retryable: progress.failed_retryable,
            suppressed: progress.suppressed,
            no_email_address: progress.no_email_address,
            bounced: progress.bounced,
            complained: progress.complained,
            pending: progress.queued + progress.sending,
            queued: progress.queued,
            sending: progress.sending,
            retrying: progress.retrying,
            settled: progress.settled,
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
    if let Some(path) = &args.csv {
        if let Err(error) = write_csv(endpoints, &args.incident_id, path).await {
            eprintln!(
                "candorctl: writing the outcomes CSV {}: {}",
                path.display(),
                crate::errors::describe_anyhow(&error)
            );
            return ExitCode::from(EXIT_UNREACHABLE);
        }
        if path.as_os_str() == "-" {
            return ExitCode::SUCCESS;
        }
    }
    let report = build(endpoints, &args.incident_id).await;
    output::emit(args.output.output, &report, markdown);
    if !report.unreachable.is_empty() {
        ExitCode::from(EXIT_UNREACHABLE)
    } else if report.outcome == Outcome::Complete.name() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_OK)
    }
}

/// Writes the per-member outcomes to `path` (`-`: standard output), and
/// says on standard error how many rows went where.
async fn write_csv(
    endpoints: &Endpoints,
    incident_id: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let written = if path.as_os_str() == "-" {
        super::outcomes_csv::write(endpoints, incident_id, std::io::stdout().lock()).await?
    } else {
        let file = std::fs::File::create(path).context("cannot create the file")?;
        super::outcomes_csv::write(endpoints, incident_id, std::io::BufWriter::new(file)).await?
    };
    eprintln!(
        "candorctl: {} email and {} in-app outcomes written to {}",
        written.email_rows,
        written.in_app_rows,
        if path.as_os_str() == "-" {
            "standard output".to_owned()
        } else {
            path.display().to_string()
        }
    );
    Ok(())
}

pub async fn build(endpoints: &Endpoints, incident_id: &str) -> IncidentReport {
    let snapshot = IncidentSnapshot::fetch(endpoints, incident_id).await;
    let outcome = Outcome::of(&snapshot);
    let mut report = IncidentReport {
        incident_id: incident_id.to_owned(),
        outcome: outcome.name().to_owned(),
        not_known_to: match &outcome {
            Outcome::NotKnown(services) => services.iter().map(|name| (*name).to_owned()).collect(),
            _ => Vec::new(),
        },
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        unreachable: Unreachable::all(&snapshot),
        regulator: RegulatorView::of(&snapshot, chrono::Utc::now()),
        ..IncidentReport::default()
    };
    if let Ok(progress) = &snapshot.account
        && progress.incident_known
    {
        report.incident = progress
            .incident
            .as_ref()
            .and_then(|incident| candor_proto::encode_snake_json(incident).ok());
        report.timeline.reported_at = progress.recorded_at.as_ref().map(rfc3339);
        report.timeline.enumeration_completed_at =
            progress.enumeration_completed_at.as_ref().map(rfc3339);
        report.accounts = Some(AccountCounts::from(progress));
    }
    if let Ok(progress) = &snapshot.notification
        && progress.incident_known
    {
        report.timeline.first_email_sent_at = progress.first_sent_at.as_ref().map(rfc3339);
        report.timeline.last_email_sent_at = progress.last_sent_at.as_ref().map(rfc3339);
        report.emails = Some(EmailCounts::from(progress));
        report.failure_groups = progress
            .failure_groups
            .iter()
            .map(FailureGroupEntry::from)
            .collect();
        if progress.failed > 0 {
            match failures::first_failed(endpoints, incident_id, MAX_LISTED_FAILURES).await {
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
    if let Ok(progress) = &snapshot.membership
        && progress.incident_known
    {
        report.timeline.credits_completed_at = progress.completed_at.as_ref().map(rfc3339);
        report.credits = Some(CreditCounts::from(progress));
    }
    if let Ok(Some(thread)) = &snapshot.forum {
        report.forum_thread_url = Some(thread.url.clone());
        report.timeline.thread_opened_at = thread.created_at.as_ref().map(rfc3339);
    }
    report
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
    let _ = writeln!(out, "Outcome: **{}**.\n", outcome_words(report));
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
            "- Emails: {} delivered of {} expected; {} bounced; {} complained of; {} failed; {} suppressed ({} members without an address); {} still pending ({} waiting to be retried); {} sent without the forum link; {} possibly sent twice after a crash{}",
            emails.sent,
            emails.expected,
            emails.bounced,
            emails.complained,
            emails.failed,
            emails.suppressed,
            emails.no_email_address,
            emails.pending,
            emails.retrying,
            emails.sent_without_thread_link,
            emails.possibly_resent,
            if emails.complete {
                ""
            } else if emails.settled {
                " (finished with failures)"
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
    regulator::markdown(&mut out, &report.regulator);
    failure_groups_markdown(&mut out, report);
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

/// The outcome as the report's opening words.
fn outcome_words(report: &IncidentReport) -> String {
    match report.outcome.as_str() {
        "complete" => "complete".to_owned(),
        "finished_with_failures" => {
            let failed = report.emails.as_ref().map_or(0, |emails| emails.failed);
            format!("finished with failures ({failed} emails failed)")
        }
        "in_progress" => "in progress".to_owned(),
        "not_known" => format!("not known to {}", report.not_known_to.join(", ")),
        _ => "unknown (a service could not be asked)".to_owned(),
    }
}

/// Why emails failed, by class and reason.
fn failure_groups_markdown(out: &mut String, report: &IncidentReport) {
    if report.failure_groups.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Why emails failed\n");
    let _ = writeln!(
        out,
        "| emails | class | retryable | reason |\n| --- | --- | --- | --- |"
    );
    for group in &report.failure_groups {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            group.count,
            group.class,
            if group.retryable { "yes" } else { "no" },
            group.reason.replace('|', "\\|")
        );
    }
    if let Some(emails) = &report.emails
        && emails.failed_retryable > 0
    {
        let _ = writeln!(
            out,
            "\n{} of them can be sent again once the cause is fixed: `candorctl incident retry-failed {}`.",
            emails.failed_retryable, report.incident_id
        );
    }
}
