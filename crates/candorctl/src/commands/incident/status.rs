//! `candorctl incident status ID [--watch]`: one line per channel, live
//! progress bars when watching on a terminal, plain lines otherwise; the
//! failures once the emails settled with some; exit 0 only when complete.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::failures;
use super::outcome::Outcome;
use super::progress::IncidentSnapshot;
use crate::endpoints::Endpoints;

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
    pub endpoints: Endpoints,
}

pub async fn run(args: StatusArgs) -> ExitCode {
    if !args.watch {
        let snapshot = IncidentSnapshot::fetch(&args.endpoints, &args.incident_id).await;
        for line in lines(&snapshot) {
            println!("{line}");
        }
        return finish(&args.endpoints, &snapshot).await;
    }
    let interval = Duration::from_secs(args.interval_seconds.max(1));
    if std::io::stdout().is_terminal() {
        watch_with_bars(&args, interval).await
    } else {
        watch_plain(&args, interval).await
    }
}

fn exit_code(snapshot: &IncidentSnapshot) -> ExitCode {
    Outcome::of(snapshot).exit_code()
}

/// The verdict once the channel lines are printed: the failures listed
/// when the emails settled with some, the exit code.
async fn finish(endpoints: &Endpoints, snapshot: &IncidentSnapshot) -> ExitCode {
    let outcome = Outcome::of(snapshot);
    if outcome == Outcome::FinishedWithFailures
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

async fn watch_plain(args: &StatusArgs, interval: Duration) -> ExitCode {
    let started = Instant::now();
    let record_timeout = Duration::from_secs(args.record_timeout_seconds);
    loop {
        let snapshot = IncidentSnapshot::fetch(&args.endpoints, &args.incident_id).await;
        for line in lines(&snapshot) {
            println!("{line}");
        }
        if watch_over(&snapshot, started, record_timeout) {
            return finish(&args.endpoints, &snapshot).await;
        }
        println!();
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return exit_code(&snapshot),
        }
    }
}

async fn watch_with_bars(args: &StatusArgs, interval: Duration) -> ExitCode {
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>13} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let add = |prefix: &'static str| {
        let bar = bars.add(ProgressBar::new(0));
        bar.set_style(style.clone());
        bar.set_prefix(prefix);
        bar
    };
    let accounts = add("accounts");
    let emails = add("emails");
    let credits = add("credits");
    let thread = bars.add(ProgressBar::new_spinner());
    thread.set_prefix("forum thread");
    let started = Instant::now();
    let record_timeout = Duration::from_secs(args.record_timeout_seconds);
    loop {
        let snapshot = IncidentSnapshot::fetch(&args.endpoints, &args.incident_id).await;
        let [account_line, email_line, credit_line, forum_line] = lines(&snapshot);
        match &snapshot.account {
            Ok(progress) => set(
                &accounts,
                u64::from(progress.batches_published),
                u64::from(progress.batch_count),
                &account_line,
            ),
            Err(_) => accounts.set_message(account_line),
        }
        match &snapshot.notification {
            Ok(progress) => set(
                &emails,
                progress.sent + progress.failed + progress.suppressed,
                progress.expected_total,
                &email_line,
            ),
            Err(_) => emails.set_message(email_line),
        }
        match &snapshot.membership {
            Ok(progress) => set(
                &credits,
                progress.credited + progress.already_lifetime + progress.skipped,
                progress.expected_total,
                &credit_line,
            ),
            Err(_) => credits.set_message(credit_line),
        }
        thread.set_message(forum_line);
        if watch_over(&snapshot, started, record_timeout) {
            for bar in [&accounts, &emails, &credits, &thread] {
                bar.finish();
            }
            return finish(&args.endpoints, &snapshot).await;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return exit_code(&snapshot),
        }
    }
}

fn set(bar: &ProgressBar, position: u64, length: u64, line: &str) {
    bar.set_length(length.max(position));
    bar.set_position(position);
    // The bar shows the counts; the message keeps the rest of the line.
    bar.set_message(
        line.split_once("  ")
            .map_or(line, |(_, rest)| rest.trim())
            .to_owned(),
    );
}

/// The four channel lines: accounts, emails, credits, forum thread.
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
            "emails        {} delivered / {} expected, {} failed, {} suppressed, {} pending ({} retrying); {:.1}/s{}{}",
            progress.sent,
            progress.expected_total,
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
