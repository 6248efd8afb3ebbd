//! End-to-end benchmark: N affected members, one breach, every channel
//! timed to completion, each service's peak RSS.
//!
//! The four services run as their real binaries (separate processes, so
//! each one's memory is its own) against fresh databases, a fresh RabbitMQ
//! namespace and the testkit SMTP sink (no send-rate limit unless
//! `--send-rate`). Build first:
//!
//! ```sh
//! cargo build --release -p candor-account -p candor-notification -p candor-membership -p candor-forum -p candor-e2e
//! $CARGO_TARGET_DIR/release/bench-breach --accounts 100000
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use candor_testkit::binary::{RunningBinary, ServiceBinary, free_port};
use candor_testkit::database::TestDatabase;
use candor_testkit::environment::{OPERATOR_TOKEN, caller_token, caller_tokens_setting};
use candor_testkit::rabbitmq::{TestBroker, amqp_settings};
use candor_testkit::smtp::SmtpSink;
use candorctl::commands::accounts::{seed, stream};
use candorctl::commands::breach;
use candorctl::commands::incident::progress::IncidentSnapshot;
use candorctl::endpoints::Endpoints;
use candorctl::notice::{self, NoticeFlags};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Time one breach for N affected members through all four services")]
struct Args {
    /// Affected members to seed (all joined before the cutoff).
    #[arg(long, default_value_t = 100_000)]
    accounts: u64,
    /// SMTP transactions in flight in the notification service.
    #[arg(long, default_value_t = 8)]
    smtp_concurrency: u32,
    /// The notification service's SEND_RATE_PER_SECOND (0: no limit, to
    /// time the service itself; a provider's rate, to see the notices wait
    /// in PostgreSQL rather than in the queue).
    #[arg(long, default_value_t = 0.0)]
    send_rate: f64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_seconds: u64,
    /// At the end, print every table of every service's database (rows,
    /// bytes, bytes per affected member) as the run left it and after
    /// `VACUUM FULL`, and what the outbox published (docs/capacity.md).
    #[arg(long)]
    table_sizes: bool,
}

struct Service {
    name: &'static str,
    process: RunningBinary,
    pid: u32,
    database: TestDatabase,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let smtp = SmtpSink::start()?;
    let broker = TestBroker::new();
    let ports = [free_port()?, free_port()?, free_port()?, free_port()?];
    let url = |index: usize| format!("http://127.0.0.1:{}", ports[index]);
    let amqp = broker.config();
    let binaries_dir = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .context("the bench binary has no directory")?;

    let specs: [(&'static str, Vec<(&str, String)>); 4] = [
        (
            "candor-account",
            vec![
                ("NOTIFICATION_GRPC_URL", url(1)),
                (
                    "LEGACY_HASH_KEY",
                    "bench-legacy-hash-key-0123456789abcdef".to_owned(),
                ),
            ],
        ),
        (
            "candor-notification",
            vec![
                ("SMTP_URL", smtp.url()),
                ("ORGANISATION_NAME", "Candor Books".to_owned()),
                ("ACCOUNT_GRPC_URL", url(0)),
                ("FORUM_GRPC_URL", url(3)),
                ("SEND_RATE_PER_SECOND", args.send_rate.to_string()),
                ("SMTP_CONCURRENCY", args.smtp_concurrency.to_string()),
            ],
        ),
        ("candor-membership", vec![("ACCOUNT_GRPC_URL", url(0))]),
        ("candor-forum", vec![("ACCOUNT_GRPC_URL", url(0))]),
    ];
    let mut services = Vec::new();
    for (index, (name, extra)) in specs.into_iter().enumerate() {
        let database = TestDatabase::create().await?;
        let path = binaries_dir.join(name);
        if !path.exists() {
            bail!(
                "{} is missing: build the services with `cargo build --release` first",
                path.display()
            );
        }
        let mut binary = amqp_settings(&amqp)
            .into_iter()
            .fold(ServiceBinary::new(&path), |binary, (name, value)| {
                binary.env(name, value)
            })
            .env("GRPC_ADDR", format!("127.0.0.1:{}", ports[index]))
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database.url())
            .env("DATABASE_MAX_CONNECTIONS", "20")
            .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env(
                "SERVICE_TOKEN",
                caller_token(name.trim_start_matches("candor-").parse()?),
            )
            .env("CALLER_TOKENS", caller_tokens_setting())
            .env("RUST_LOG", "warn");
        for (variable, value) in extra {
            binary = binary.env(variable, value);
        }
        let process = binary.spawn()?;
        let pid = process.pid();
        services.push(Service {
            name,
            process,
            pid,
            database,
        });
    }
    let endpoints = Endpoints {
        amqp_url: candor_platform::config::expose(&amqp.amqp_url).to_owned(),
        amqp_namespace: amqp.amqp_namespace.clone(),
        account_grpc_url: url(0),
        notification_grpc_url: url(1),
        membership_grpc_url: url(2),
        forum_grpc_url: url(3),
        operator_token: Some(OPERATOR_TOKEN.to_owned()),
        tls: Default::default(),
    };
    for index in 0..4 {
        candor_testkit::conformance::wait_for_serving(&url(index), Duration::from_secs(60)).await?;
    }

    let cutoff = candorctl::notice::file::parse_time("2011-11-01").map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let members = seed::members(args.accounts, cutoff, 1.0, "bench.example".to_owned(), 1);
    let summary = stream::import(&endpoints, members, None).await?;
    let import_seconds = started.elapsed().as_secs_f64();
    println!(
        "import: {} members in {import_seconds:.1} s ({:.0}/s)",
        summary.imported,
        summary.imported as f64 / import_seconds
    );

    let flags = NoticeFlags {
        incident_id: Some("bench".to_owned()),
        ..NoticeFlags::default()
    };
    let notice_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/breach.toml");
    let breach_event = notice::load(Some(&notice_path), &flags, SystemTime::now())
        .map_err(|problems| anyhow::anyhow!("{problems}"))?;
    let reported = Instant::now();
    breach::publish(&breach_event, &endpoints).await?;

    let mut done: [Option<f64>; 4] = [None; 4];
    let mut peak_rss = [0_u64; 4];
    let deadline = reported + Duration::from_secs(args.timeout_seconds);
    loop {
        let snapshot = IncidentSnapshot::fetch(&endpoints, "bench").await;
        let elapsed = reported.elapsed().as_secs_f64();
        let finished = [
            matches!(&snapshot.account, Ok(p) if p.complete),
            matches!(&snapshot.notification, Ok(p) if p.complete),
            matches!(&snapshot.membership, Ok(p) if p.complete),
            matches!(&snapshot.forum, Ok(Some(_))),
        ];
        for (slot, finished) in done.iter_mut().zip(finished) {
            if finished && slot.is_none() {
                *slot = Some(elapsed);
            }
        }
        for (peak, service) in peak_rss.iter_mut().zip(&services) {
            *peak = (*peak).max(peak_rss_kib(service.pid).unwrap_or_default());
        }
        if done.iter().all(Option::is_some) {
            break;
        }
        if Instant::now() > deadline {
            println!("timed out after {elapsed:.0} s; last status:");
            for line in candorctl::commands::incident::status::lines(&snapshot) {
                println!("  {line}");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let channels = [
        "accounts (enumerated)",
        "emails (settled)",
        "credits",
        "forum thread",
    ];
    println!("breach for {} affected members:", args.accounts);
    for (channel, seconds) in channels.iter().zip(done) {
        match seconds {
            Some(seconds) => println!(
                "  {channel:<22} complete after {seconds:>7.1} s  ({:.0} accounts/s)",
                args.accounts as f64 / seconds.max(0.001)
            ),
            None => println!("  {channel:<22} not complete"),
        }
    }
    println!("emails received by the sink: {}", smtp.messages().len());
    for (service, peak) in services.iter().zip(peak_rss) {
        println!(
            "  peak RSS {:<20} {:>6.1} MiB",
            service.name,
            peak as f64 / 1024.0
        );
    }
    if args.table_sizes {
        for service in &services {
            report_storage(service, args.accounts).await?;
        }
    }
    for service in services {
        let _ =
            tokio::task::spawn_blocking(move || service.process.terminate(Duration::from_secs(30)))
                .await;
    }
    Ok(())
}

/// The process's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Prints a service's tables (as the run left them, then compacted) and
/// what its outbox published, per affected member.
async fn report_storage(service: &Service, accounts: u64) -> anyhow::Result<()> {
    use candor_testkit::storage;
    let pool = service.database.pool();
    let per_member = |bytes: i64| bytes as f64 / accounts.max(1) as f64;
    for (state, compact) in [("as the run left them", false), ("after VACUUM FULL", true)] {
        if compact {
            storage::compact(pool).await?;
        }
        let tables = storage::table_sizes(pool).await?;
        let total: i64 = tables.iter().map(|table| table.total_bytes).sum();
        println!(
            "{} tables, {state}: {:.1} MiB, {:.0} bytes per affected member",
            service.name,
            total as f64 / 1_048_576.0,
            per_member(total)
        );
        println!("| table | rows | heap | indexes | total | total per member |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        for table in tables {
            println!(
                "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.0} B |",
                table.table,
                table.rows,
                table.heap_bytes as f64 / 1_048_576.0,
                table.index_bytes as f64 / 1_048_576.0,
                table.total_bytes as f64 / 1_048_576.0,
                per_member(table.total_bytes)
            );
        }
    }
    for published in storage::published(pool).await? {
        println!(
            "{} published {} x {} ({} payload bytes, {:.1} per affected member)",
            service.name,
            published.messages,
            published.routing_key,
            published.payload_bytes,
            per_member(published.payload_bytes)
        );
    }
    Ok(())
}
