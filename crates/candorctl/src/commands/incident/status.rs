//! `candorctl incident status ID [--watch]`: one line per channel, live
//! progress bars when watching on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::progress::IncidentSnapshot;
use crate::commands::{EXIT_NOT_OK, EXIT_UNREACHABLE};
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
    #[command(flatten)]
    pub endpoints: Endpoints,
}

pub async fn run(args: StatusArgs) -> ExitCode {
    if !args.watch {
        let snapshot = IncidentSnapshot::fetch(&args.endpoints, &args.incident_id).await;
        for line in lines(&snapshot) {
            println!("{line}");
        }
        return exit_code(&snapshot);
    }
    let interval = Duration::from_secs(args.interval_seconds.max(1));
    if std::io::stdout().is_terminal() {
        watch_with_bars(&args, interval).await
    } else {
        watch_plain(&args, interval).await
    }
}

fn exit_code(snapshot: &IncidentSnapshot) -> ExitCode {
    if !snapshot.unreachable().is_empty() {
        ExitCode::from(EXIT_UNREACHABLE)
    } else if snapshot.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_OK)
    }
}

async fn watch_plain(args: &StatusArgs, interval: Duration) -> ExitCode {
    loop {
        let snapshot = IncidentSnapshot::fetch(&args.endpoints, &args.incident_id).await;
        for line in lines(&snapshot) {
            println!("{line}");
        }
        if snapshot.complete() {
            return ExitCode::SUCCESS;
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
        if snapshot.complete() {
            for bar in [&accounts, &emails, &credits, &thread] {
                bar.finish();
            }
            return ExitCode::SUCCESS;
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
        Ok(progress) if !progress.incident_known => "accounts      not recorded yet".to_owned(),
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
        Ok(progress) if !progress.incident_known => "emails        not recorded yet".to_owned(),
        Ok(progress) => format!(
            "emails        {} sent / {} expected, {} failed, {} suppressed, {} queued, {} sending; {:.1}/s{}{}",
            progress.sent,
            progress.expected_total,
            progress.failed,
            progress.suppressed,
            progress.queued,
            progress.sending,
            progress.send_rate_per_second,
            progress
                .estimated_completion_at
                .as_ref()
                .map(|eta| format!(", done by {}", crate::timefmt::rfc3339(eta)))
                .unwrap_or_default(),
            if progress.complete { "; complete" } else { "" },
        ),
        Err(error) => format!("emails        unreachable: {error}"),
    };
    let credit = match &snapshot.membership {
        Ok(progress) if !progress.incident_known => "credits       not recorded yet".to_owned(),
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
        Ok(None) => "forum thread  not opened yet".to_owned(),
        Err(error) => format!("forum thread  unreachable: {error}"),
    };
    [account, email, credit, forum]
}
