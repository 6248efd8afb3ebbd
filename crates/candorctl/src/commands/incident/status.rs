//! `candorctl incident status ID [--watch]`: a bar and a detail line per
//! channel, at most 80 columns wide; with `--watch` redrawn in place on a
//! terminal, repeated otherwise; the failures once the emails settled with
//! some; exit 0 only when complete. `-o json|yaml` gives the counts instead.

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::failures;
use super::outcome::Outcome;
use super::progress::IncidentSnapshot;
use super::report::{AccountCounts, CreditCounts, EmailCounts, Unreachable};
use crate::endpoints::Endpoints;
use crate::output::table::fit;
use crate::output::{self, OutputArgs, OutputFormat};

/// The width every line of the table fits in.
pub const WIDTH: usize = 80;
/// Channel names are padded to this many columns.
const LABEL: usize = 14;
/// Cells of a progress bar.
const BAR: usize = 20;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The incident id, as reported.
    pub incident_id: String,
    /// Keep refreshing until every channel is complete (Ctrl-C to stop).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes when watching.
    #[arg(long, default_value_t = 2)]
    pub interval_seconds: u64,
    /// When watching, seconds to wait for every service to record a
    /// just-published incident before giving up on an unknown one.
    #[arg(long, default_value_t = 60)]
    pub record_timeout_seconds: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The status for scripts: the same counts as the report's.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// The incident asked about.
    pub incident_id: String,
    /// Every channel finished.
    pub complete: bool,
    /// The account service's counts, unless it could not answer.
    pub accounts: Option<AccountCounts>,
    /// The notification service's counts, unless it could not answer.
    pub emails: Option<EmailCounts>,
    /// The membership service's counts, unless it could not answer.
    pub credits: Option<CreditCounts>,
    /// The incident's forum thread, once opened.
    pub forum_thread_url: Option<String>,
    /// The services that could not answer, and why.
    pub unreachable: Vec<Unreachable>,
}

impl StatusView {
    pub fn new(incident_id: &str, snapshot: &IncidentSnapshot) -> Self {
        Self {
            incident_id: incident_id.to_owned(),
            complete: snapshot.complete(),
            accounts: snapshot.account.as_ref().ok().map(AccountCounts::from),
            emails: snapshot.notification.as_ref().ok().map(EmailCounts::from),
            credits: snapshot.membership.as_ref().ok().map(CreditCounts::from),
            forum_thread_url: snapshot
                .forum
                .as_ref()
                .ok()
                .and_then(|thread| thread.as_ref().map(|thread| thread.url.clone())),
            unreachable: Unreachable::all(snapshot),
        }
    }
}

pub async fn run(args: StatusArgs, endpoints: &Endpoints) -> ExitCode {
    let interval = Duration::from_secs(args.interval_seconds.max(1));
    let redraw =
        args.watch && args.output.output == OutputFormat::Table && std::io::stdout().is_terminal();
    let mut drawn_lines = 0;
    let started = Instant::now();
    let record_timeout = Duration::from_secs(args.record_timeout_seconds);
    loop {
        let snapshot = IncidentSnapshot::fetch(endpoints, &args.incident_id).await;
        let view = StatusView::new(&args.incident_id, &snapshot);
        let text = output::render(args.output.output, &view, |_| {
            let mut text = frame(&snapshot).join("\n");
            text.push('\n');
            text
        });
        let mut stdout = std::io::stdout().lock();
        if redraw && drawn_lines > 0 {
            // Back to the top of the previous frame, and clear below.
            let _ = write!(stdout, "\u{1b}[{drawn_lines}A\u{1b}[J");
        }
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
        drop(stdout);
        drawn_lines = text.lines().count();
        if !args.watch || watch_over(&snapshot, started, record_timeout) {
            return finish(endpoints, &snapshot, args.output.output).await;
        }
        if !redraw {
            println!();
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return exit_code(&snapshot),
        }
    }
}

fn exit_code(snapshot: &IncidentSnapshot) -> ExitCode {
    Outcome::of(snapshot).exit_code()
}

/// The verdict once the channel lines are printed: the failures listed
/// when the emails settled with some, the exit code.
async fn finish(
    endpoints: &Endpoints,
    snapshot: &IncidentSnapshot,
    format: OutputFormat,
) -> ExitCode {
    let outcome = Outcome::of(snapshot);
    // The failures follow the table; JSON and YAML carry the counts alone.
    if format == OutputFormat::Table
        && outcome == Outcome::FinishedWithFailures
        && let Ok(emails) = &snapshot.notification
    {
        println!("{}", outcome.describe(&snapshot.incident_id));
        let first =
            failures::first_failed(endpoints, &snapshot.incident_id, failures::LISTED_IN_STATUS)
                .await
                .unwrap_or_else(|error| {
                    eprintln!("candorctl: cannot list the failed emails: {error:#}");
                    Vec::new()
                });
        for line in failures::summary_lines(&snapshot.incident_id, emails, &first) {
            println!("{line}");
        }
    }
    outcome.exit_code()
}

/// Whether a watch started at `started` is over: every channel final, or
/// the incident still not known to some service after `record_timeout`.
fn watch_over(snapshot: &IncidentSnapshot, started: Instant, record_timeout: Duration) -> bool {
    match Outcome::of(snapshot) {
        outcome if outcome.is_final() => true,
        outcome @ Outcome::NotKnown(_) if started.elapsed() >= record_timeout => {
            eprintln!(
                "candorctl: {} after waiting {} s for it to be recorded",
                outcome.describe(&snapshot.incident_id),
                record_timeout.as_secs()
            );
            true
        }
        _ => false,
    }
}

/// The table: per channel a bar line and detail lines, each at most
/// [`WIDTH`] columns.
pub fn frame(snapshot: &IncidentSnapshot) -> Vec<String> {
    let mut lines = Vec::new();
    match &snapshot.account {
        Ok(progress) if !progress.incident_known => {
            lines.push(label("accounts", &not_known(snapshot, "account")))
        }
        Ok(progress) => {
            let done = if progress.complete {
                "batches, done"
            } else {
                "batches"
            };
            lines.push(bar_line(
                "accounts",
                u64::from(progress.batches_published),
                u64::from(progress.batch_count),
                done,
            ));
            lines.extend(details(&[
                (progress.affected_accounts, "affected"),
                (progress.passwords_invalidated, "passwords invalidated"),
                (
                    progress.other_accounts_change_required,
                    "others must change",
                ),
                (progress.sessions_revoked, "sessions revoked"),
                (progress.passwords_reset_since, "reset since"),
            ]));
        }
        Err(error) => lines.extend(unreachable("accounts", error)),
    }
    match &snapshot.notification {
        Ok(progress) if !progress.incident_known => {
            lines.push(label("emails", &not_known(snapshot, "notification")))
        }
        Ok(progress) => {
            let tail = if progress.complete {
                "done".to_owned()
            } else if progress.settled {
                "finished with failures".to_owned()
            } else {
                let eta = progress
                    .estimated_completion_at
                    .as_ref()
                    .map(|eta| format!(" ETA {}", short_time(eta)))
                    .unwrap_or_default();
                format!("{:.0}/s{eta}", progress.send_rate_per_second)
            };
            lines.push(bar_line(
                "emails",
                progress.sent
                    + progress.failed
                    + progress.suppressed
                    + progress.bounced
                    + progress.complained,
                progress.expected_total,
                &tail,
            ));
            let mut counts = vec![
                (progress.sent, "delivered"),
                (progress.failed, "failed"),
                (progress.suppressed, "suppressed"),
                (progress.queued + progress.sending, "pending"),
                (progress.retrying, "retrying"),
            ];
            // Reports from providers arrive after the fact; shown once any has.
            for (count, what) in [
                (progress.bounced, "bounced"),
                (progress.complained, "complained of"),
            ] {
                if count > 0 {
                    counts.push((count, what));
                }
            }
            lines.extend(details(&counts));
        }
        Err(error) => lines.extend(unreachable("emails", error)),
    }
    match &snapshot.membership {
        Ok(progress) if !progress.incident_known => {
            lines.push(label("credits", &not_known(snapshot, "membership")));
        }
        Ok(progress) => {
            lines.push(bar_line(
                "credits",
                progress.credited + progress.already_lifetime + progress.skipped,
                progress.expected_total,
                if progress.complete { "done" } else { "" },
            ));
            lines.extend(details(&[
                (progress.credited, "credited"),
                (progress.already_lifetime, "already lifetime"),
                (progress.skipped, "skipped"),
            ]));
        }
        Err(error) => lines.extend(unreachable("credits", error)),
    }
    match &snapshot.forum {
        Ok(Some(thread)) => lines.push(label("forum thread", &thread.url)),
        Ok(None) => lines.push(label("forum thread", &not_known(snapshot, "forum"))),
        Err(error) => lines.extend(unreachable("forum thread", error)),
    }
    lines
}

/// `accounts      unreachable` and why, below it (at most two lines).
fn unreachable(name: &str, error: &str) -> Vec<String> {
    let mut lines = vec![label(name, "unreachable")];
    let width = WIDTH - LABEL;
    let mut current = String::new();
    for word in error.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(label("", &current));
            current.clear();
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(label("", &current));
    }
    lines.truncate(3);
    lines
}

/// `name` padded to the label column, then `text`, cut to the width.
fn label(name: &str, text: &str) -> String {
    fit(&format!("{name:<LABEL$}{text}"), WIDTH)
}

/// `emails        [#####---------------]   1,000/4,000  12/s ETA 14:05Z`
fn bar_line(name: &str, position: u64, length: u64, tail: &str) -> String {
    let length = length.max(position);
    let filled = position
        .saturating_mul(BAR as u64)
        .checked_div(length)
        .and_then(|cells| usize::try_from(cells).ok())
        .unwrap_or(0)
        .min(BAR);
    let bar = format!("[{}{}]", "#".repeat(filled), "-".repeat(BAR - filled));
    let counts = format!("{}/{}", thousands(position), thousands(length));
    label(name, format!("{bar} {counts:>19}  {tail}").trim_end())
}

/// `1,000 affected, 5 sessions revoked`, wrapped below the label column.
fn details(items: &[(u64, &str)]) -> Vec<String> {
    let width = WIDTH - LABEL;
    let mut lines = Vec::new();
    let mut current = String::new();
    for (count, what) in items {
        let item = format!("{} {what}", thousands(*count));
        if !current.is_empty() && current.chars().count() + 2 + item.chars().count() > width {
            lines.push(label("", &current));
            current.clear();
        }
        if !current.is_empty() {
            current.push_str(", ");
        }
        current.push_str(&item);
    }
    if !current.is_empty() {
        lines.push(label("", &current));
    }
    lines
}

/// `1234567` → `1,234,567`.
fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `14:05Z` today (UTC), `05-21 14:05Z` another day.
fn short_time(timestamp: &prost_types::Timestamp) -> String {
    let Some(time) = chrono::DateTime::from_timestamp(timestamp.seconds, 0) else {
        return "?".to_owned();
    };
    if time.date_naive() == chrono::Utc::now().date_naive() {
        time.format("%H:%MZ").to_string()
    } else {
        time.format("%m-%d %H:%MZ").to_string()
    }
}

/// The four channel lines of the one-line-per-channel form: accounts,
/// emails, credits, forum thread (for logs, e.g. the breach benchmark).
pub fn lines(snapshot: &IncidentSnapshot) -> [String; 4] {
    let account = match &snapshot.account {
        Ok(progress) if !progress.incident_known => {
            format!("accounts      {}", not_known(snapshot, "account"))
        }
        Ok(progress) => format!(
            "accounts      {} affected, {} passwords invalidated, {} other accounts must change, {} sessions revoked, {} reset since; batches {}/{}{}",
            progress.affected_accounts,
            progress.passwords_invalidated,
            progress.other_accounts_change_required,
            progress.sessions_revoked,
            progress.passwords_reset_since,
            progress.batches_published,
            progress.batch_count,
            if progress.complete {
                "; complete"
            } else {
                "; enumerating"
            },
        ),
        Err(error) => format!("accounts      unreachable: {error}"),
    };
    let email = match &snapshot.notification {
        Ok(progress) if !progress.incident_known => {
            format!("emails        {}", not_known(snapshot, "notification"))
        }
        Ok(progress) => format!(
            "emails        {} delivered / {} expected, {} bounced, {} complained of, {} failed, {} suppressed, {} pending ({} retrying); {:.1}/s{}{}",
            progress.sent,
            progress.expected_total,
            progress.bounced,
            progress.complained,
            progress.failed,
            progress.suppressed,
            progress.queued + progress.sending,
            progress.retrying,
            progress.send_rate_per_second,
            progress
                .estimated_completion_at
                .as_ref()
                .map(|eta| format!(", done by {}", crate::timefmt::rfc3339(eta)))
                .unwrap_or_default(),
            email_state(progress),
        ),
        Err(error) => format!("emails        unreachable: {error}"),
    };
    let credit = match &snapshot.membership {
        Ok(progress) if !progress.incident_known => {
            format!("credits       {}", not_known(snapshot, "membership"))
        }
        Ok(progress) => format!(
            "credits       {} credited, {} already lifetime, {} skipped / {} expected{}",
            progress.credited,
            progress.already_lifetime,
            progress.skipped,
            progress.expected_total,
            if progress.complete { "; complete" } else { "" },
        ),
        Err(error) => format!("credits       unreachable: {error}"),
    };
    let forum = match &snapshot.forum {
        Ok(Some(thread)) => format!("forum thread  {}", thread.url),
        Ok(None) => format!("forum thread  {}", not_known(snapshot, "forum")),
        Err(error) => format!("forum thread  unreachable: {error}"),
    };
    [account, email, credit, forum]
}

/// "incident X is not known to <service>".
fn not_known(snapshot: &IncidentSnapshot, service: &str) -> String {
    format!(
        "incident {} is not known to {service}",
        snapshot.incident_id
    )
}

/// How the email line ends: complete, finished with failures, or nothing
/// while emails are pending.
fn email_state(
    progress: &candor_proto::notification::v1::GetIncidentProgressResponse,
) -> &'static str {
    if progress.complete {
        "; complete"
    } else if progress.settled {
        "; finished with failures"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candor_proto::{account::v1 as account, forum::v1 as forum};
    use candor_proto::{membership::v1 as membership, notification::v1 as notification};

    /// The largest numbers a deployment sees, and a long thread URL.
    fn busy_snapshot() -> IncidentSnapshot {
        IncidentSnapshot {
            incident_id: "2025-05-member-backup".to_owned(),
            account: Ok(account::GetIncidentProgressResponse {
                incident_known: true,
                affected_accounts: 12_345_678,
                passwords_invalidated: 12_345_678,
                other_accounts_change_required: 98_765_432,
                sessions_revoked: 23_456_789,
                passwords_reset_since: 1_234_567,
                batches_published: 24_692,
                batch_count: 24_692,
                complete: true,
                ..Default::default()
            }),
            notification: Ok(notification::GetIncidentProgressResponse {
                incident_known: true,
                expected_total: 12_345_678,
                sent: 10_000_000,
                failed: 1_234_567,
                suppressed: 12_345,
                queued: 1_000_000,
                sending: 1_000,
                send_rate_per_second: 12_345.6,
                estimated_completion_at: Some(prost_types::Timestamp {
                    seconds: 1_900_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            membership: Ok(membership::GetIncidentProgressResponse {
                incident_known: true,
                expected_total: 12_345_678,
                credited: 12_000_000,
                already_lifetime: 300_000,
                skipped: 45_678,
                ..Default::default()
            }),
            forum: Ok(Some(forum::Thread {
                url: format!("https://books.candor.example/threads/{}", "x".repeat(80)),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn every_line_fits_80_columns() {
        let unreachable =
            "unavailable: tcp connect error: Connection refused (os error 111) while asking"
                .repeat(2);
        for snapshot in [
            busy_snapshot(),
            IncidentSnapshot {
                incident_id: "2025-05-member-backup".to_owned(),
                account: Err(unreachable.clone()),
                notification: Err(unreachable.clone()),
                membership: Err(unreachable.clone()),
                forum: Err(unreachable.clone()),
            },
        ] {
            let lines = frame(&snapshot);
            for line in &lines {
                assert!(
                    line.chars().count() <= WIDTH,
                    "{} columns: {line}",
                    line.chars().count()
                );
            }
            for channel in ["accounts", "emails", "credits", "forum thread"] {
                assert!(
                    lines.iter().any(|line| line.starts_with(channel)),
                    "{lines:#?}"
                );
            }
        }
    }

    #[test]
    fn counts_are_grouped_and_bars_filled() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        let line = bar_line("emails", 5, 10, "done");
        assert_eq!(
            line,
            "emails        [##########----------]                5/10  done"
        );
    }
}
