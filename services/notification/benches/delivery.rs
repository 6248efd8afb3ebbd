//! Throughput of breach notices to the testkit SMTP sink, beside a bare
//! lettre loop (TCP_NODELAY, same connections, same message) in the same run.
//!
//! `cargo bench -p candor-notification --bench delivery -- --count 100000`
//! (`--count`, `--concurrency`, `--threads`: the tokio worker threads of
//! both clients). Needs PostgreSQL and RabbitMQ like the tests.
//! `CANDOR_BENCH_SERVICE_BINARY` runs another build of the service (say, the
//! one before a change) under the same bench, to compare them alternately.
//!
//! `--metrics on|off|both` (default `on`, as the service runs by default):
//! with `on` the service serves metrics and a scraper reads them every
//! `--scrape-interval` seconds (default 1; 0 never) from its start to the
//! last send, with `off` it runs with `METRICS_ADDR=off`;
//! `both` skips the bare loop and runs the service `--rounds` times (default
//! 3) on and off, alternating, each run on a fresh database, then prints
//! both throughputs and their ratio.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candor_notification::notice::{EmailIdentity, IncidentContext, NoticeRecipient, Renderer};
use candor_platform::auth::Caller;
use candor_proto::events::v1::{
    AccountsAffected, AffectedAccount, BreachReported, IncidentThreadOpened,
};
use candor_testkit::environment::{
    OPERATOR_TOKEN, TestEnvironment, caller_token, caller_tokens_setting,
};
use candor_testkit::metrics::{ScrapeCounts, Scraper};
use candor_testkit::overhead::{self, Metrics, SideBySide};
use candor_testkit::smtp::SmtpSink;
use chrono::{DateTime, Utc};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use sqlx::Connection as _;
use uuid::Uuid;

#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/inputs.rs"]
mod inputs;
use cpu::{process_ticks, stat_ticks};
use inputs::{publish, string_argument};

const INCIDENT_JSON: &str =
    include_str!("../../../crates/candor-proto/tests/data/breach_reported.json");
const BATCH: usize = 500;

fn argument(name: &str, default: usize) -> usize {
    string_argument(name)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let count = argument("--count", 100_000);
    let concurrency = argument("--concurrency", 8);
    // Worker threads of the runtime both clients run on: the bare loop's
    // own runtime and the service's (TOKIO_WORKER_THREADS).
    let threads = argument("--threads", 1).max(1);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    if let Some(sink) = string_argument("--bare-client-of") {
        // The bare loop as a process of its own (started by `bare_as_own_process`).
        let elapsed = runtime()?.block_on(bare_lettre_loop(sink.parse()?, count, concurrency))?;
        println!("{}", elapsed.as_secs_f64());
        return Ok(());
    }
    let metrics = string_argument("--metrics").unwrap_or_else(|| "on".to_owned());
    let scrape_interval = match string_argument("--scrape-interval") {
        Some(seconds) => overhead::parse_scrape_interval(&seconds).map_err(anyhow::Error::msg)?,
        None => Some(overhead::SCRAPE_INTERVAL),
    };
    let side_by_side = metrics == "both";
    let runs = overhead::plan(
        &metrics,
        argument("--rounds", if side_by_side { 3 } else { 1 }),
    )
    .map_err(anyhow::Error::msg)?;
    runtime()?.block_on(async {
        let sink = SmtpSink::start()?;
        let bare = if side_by_side {
            None
        } else {
            Some(bare_loops(&sink, count, concurrency, threads).await?)
        };
        let mut results = SideBySide::default();
        for (round, metrics) in runs {
            let load = overhead::load_average();
            eprintln!("round {round}: metrics {}, load {load:.2}", metrics.label());
            let (rate, cpu_ms_per_thousand) = service(
                &sink,
                count,
                concurrency,
                threads,
                (metrics, scrape_interval),
                bare,
            )
            .await?;
            results.record(overhead::Run {
                round,
                metrics,
                rate,
                cpu_ms_per_thousand,
                load,
            });
        }
        if side_by_side {
            println!("{}", results.summary("notices"));
        }
        anyhow::Ok(())
    })
}

/// The bare loop twice, printed; returns its rate as its own process and
/// its time in the sink's process.
async fn bare_loops(
    sink: &SmtpSink,
    count: usize,
    concurrency: usize,
    threads: usize,
) -> anyhow::Result<(f64, Duration)> {
    // The bare loop twice: on a runtime of this process (beside the sink's
    // threads), then as a process of its own, as the service is (a thread
    // switch between processes costs more than one within a process). The
    // ratio is against the second.
    let cpu_before = process_ticks(std::process::id());
    let sink_before = sink_ticks();
    let addr = sink.addr();
    let in_process = tokio::task::spawn(bare_lettre_loop(addr, count, concurrency)).await??;
    let client_cpu =
        (process_ticks(std::process::id()) - cpu_before).saturating_sub(sink_ticks() - sink_before);
    let sink_cpu = sink_ticks() - sink_before;
    let report = |place: &str, elapsed: Duration, client_cpu: u64, sink_cpu: u64| {
        println!(
            "bare lettre loop {place} (TCP_NODELAY, {concurrency} connections, {threads} runtime worker threads): {count} messages in {:.2} s = {:.0}/s; CPU {:.1} ms per 1000 messages (client {:.1}, sink {:.1})",
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64(),
            per_thousand(client_cpu + sink_cpu, count),
            per_thousand(client_cpu, count),
            per_thousand(sink_cpu, count)
        );
    };
    report("in the sink's process", in_process, client_cpu, sink_cpu);
    let (bare, client_cpu, sink_cpu) = bare_as_own_process(addr, count, concurrency, threads)?;
    report("as its own process", bare, client_cpu, sink_cpu);
    Ok((count as f64 / bare.as_secs_f64(), in_process))
}

/// One service run on a fresh database and RabbitMQ namespace, printed
/// (against the bare loop's rate as its own process and its time in the
/// sink's process, when they were measured); returns the send rate and the
/// service process's CPU in ms per 1000 notices.
async fn service(
    sink: &SmtpSink,
    count: usize,
    concurrency: usize,
    threads: usize,
    (metrics, scrape_interval): (Metrics, Option<Duration>),
    bare: Option<(f64, Duration)>,
) -> anyhow::Result<(f64, f64)> {
    let environment = TestEnvironment::new().await?;
    let already = sink.message_count();
    let (service_rate, wall, peak_rss_kib, cpu, scrapes) = service_run(
        &environment,
        sink,
        count,
        concurrency,
        threads,
        (metrics, scrape_interval),
    )
    .await?;
    // Taken, not copied: the sink would otherwise hold every run's notices.
    let messages = sink.take_messages();
    let received = messages.len() - already;
    let service_bytes: usize = messages[already..]
        .iter()
        .map(|message| message.data.len())
        .sum();
    println!(
        "service: {received} notices accepted by the sink, {:.0} bytes each on average{}",
        service_bytes as f64 / received.max(1) as f64,
        match (bare, messages.first()) {
            (Some(_), Some(first)) => format!(" (bare loop: {} bytes)", first.data.len()),
            _ => String::new(),
        }
    );
    println!(
        "service: {:.0}/s from first to last send; {:.2} s from first publish to last send",
        service_rate,
        wall.as_secs_f64()
    );
    println!("service: peak RSS {:.1} MiB", peak_rss_kib as f64 / 1024.0);
    println!(
        "service: CPU {:.1} ms per 1000 messages (service {:.1}, sink {:.1}, PostgreSQL backends {:.1})",
        per_thousand(cpu.service + cpu.sink + cpu.postgres, count),
        per_thousand(cpu.service, count),
        per_thousand(cpu.sink, count),
        per_thousand(cpu.postgres, count)
    );
    match (metrics, scrape_interval, scrapes) {
        (Metrics::On, Some(interval), Some(scrapes)) => {
            println!("service: metrics on, scraped every {interval:?}: {scrapes}");
        }
        (Metrics::On, ..) => println!("service: metrics on, never scraped"),
        (Metrics::Off, ..) => println!("service: metrics off (METRICS_ADDR=off)"),
    }
    if let Some((bare_rate, in_process)) = bare {
        println!(
            "ratio service / bare: {:.0} % (against the bare loop in the sink's process: {:.0} %)",
            100.0 * service_rate / bare_rate,
            100.0 * service_rate * in_process.as_secs_f64() / count as f64
        );
    }
    Ok((service_rate, per_thousand(cpu.service, count)))
}

/// Runs the bare loop as a child process (this bench binary with
/// `--bare-client-of`); returns its time, its CPU and the sink's, in ticks.
fn bare_as_own_process(
    sink: std::net::SocketAddr,
    count: usize,
    concurrency: usize,
    threads: usize,
) -> anyhow::Result<(Duration, u64, u64)> {
    let sink_before = sink_ticks();
    let child = Command::new(std::env::current_exe()?)
        .args(["--bare-client-of", &sink.to_string()])
        .args(["--count", &count.to_string()])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--threads", &threads.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    // The child's CPU is read once it has exited and before it is reaped:
    // a zombie's `stat` still holds its totals.
    let pid = child.id();
    let stat = format!("/proc/{pid}/stat");
    let client_ticks = loop {
        let state = std::fs::read_to_string(&stat)?
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned));
        if state.as_deref() == Some("Z") {
            break stat_ticks(&stat);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "the bare loop process failed");
    let seconds: f64 = String::from_utf8(output.stdout)?.trim().parse()?;
    Ok((
        Duration::from_secs_f64(seconds),
        client_ticks,
        sink_ticks() - sink_before,
    ))
}

/// Who the bench's notices speak for.
const BENCH_ORGANISATION: &str = "Candor Books";

/// The notice a member would get, formatted once; both runs send messages
/// of this size.
fn sample_message() -> anyhow::Result<(lettre::address::Envelope, Vec<u8>)> {
    let report: BreachReported = candor_proto::decode_json(INCIDENT_JSON.as_bytes())?;
    let renderer = Renderer::new(
        &EmailIdentity::new("notices@candor.example", BENCH_ORGANISATION),
        "https://candor.example",
    )?;
    let email = renderer.breach_notice(
        &IncidentContext::new(&report),
        NoticeRecipient {
            display_name: "Member",
            to_address: "member@example.org",
            thread_url: Some("https://candor.example/forum/threads/1"),
            held: None,
        },
        "<bench@candor.example>",
    )?;
    Ok(email.format()?)
}

async fn bare_lettre_loop(
    sink: std::net::SocketAddr,
    count: usize,
    connections: usize,
) -> anyhow::Result<Duration> {
    let (envelope, message) = sample_message()?;
    let message = Arc::new(message);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let share = count / connections + usize::from(worker < count % connections);
        let (envelope, message, addr) = (envelope.clone(), message.clone(), sink);
        tasks.spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let mut connection =
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &ClientId::default())
                    .await?;
            for _ in 0..share {
                connection.send(&envelope, &message).await?;
            }
            let _ = connection.quit().await;
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(started.elapsed())
}

/// CPU clock ticks spent while the service sent (from the thread link to
/// the last send): a second view of cost that other load on the machine
/// does not skew the way it skews throughput.
#[derive(Debug, Default, Clone, Copy)]
struct CpuTicks {
    service: u64,
    sink: u64,
    postgres: u64,
}

/// What one service run measured: the send rate, the time from first
/// publish to last send, the peak RSS, the CPU spent sending, and the
/// scrapes when metrics were on.
type ServiceRun = (f64, Duration, u64, CpuTicks, Option<ScrapeCounts>);

/// Runs the service binary against the sink with no rate limit, with
/// `metrics` on (scraped every `scrape_interval` from its start to the last
/// send, or never) or off.
async fn service_run(
    environment: &TestEnvironment,
    sink: &SmtpSink,
    count: usize,
    concurrency: usize,
    threads: usize,
    (metrics, scrape_interval): (Metrics, Option<Duration>),
) -> anyhow::Result<ServiceRun> {
    let amqp = environment.broker.config();
    let port = candor_testkit::binary::free_port()?;
    let metrics_port = candor_testkit::binary::free_port()?;
    let binary = std::env::var_os("CANDOR_BENCH_SERVICE_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_candor-notification").into());
    eprintln!("service binary: {}", binary.to_string_lossy());
    let mut child = Command::new(binary)
        .env("DATABASE_URL", environment.database.url())
        .env("DATABASE_MAX_CONNECTIONS", "16")
        // The routing keys' owners too: the bench publishes as the helper
        // user, and the service dead-letters events from anyone else.
        .envs(candor_testkit::rabbitmq::amqp_settings(&amqp))
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("SERVICE_TOKEN", caller_token(Caller::Notification))
        .env("CALLER_TOKENS", caller_tokens_setting())
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", metrics.metrics_addr(metrics_port))
        .env("SMTP_URL", sink.url())
        .env("ORGANISATION_NAME", BENCH_ORGANISATION)
        .env("SEND_RATE_PER_SECOND", "0")
        .env("SMTP_CONCURRENCY", concurrency.to_string())
        .env("THREAD_LINK_WAIT_SECONDS", "600")
        .env("RUST_LOG", "warn")
        .env("TOKIO_WORKER_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let pool = environment.database.pool();
    let started = Instant::now();
    loop {
        let ready: Option<bool> =
            sqlx::query_scalar("SELECT to_regclass('email_jobs') IS NOT NULL")
                .fetch_optional(pool)
                .await
                .ok()
                .flatten();
        if ready == Some(true) || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Declare the queues as the service does, so no publish races its start.
    environment.broker.declare_all().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!("service started; publishing {count} affected accounts");
    let scraper = scrape_interval
        .filter(|_| metrics == Metrics::On)
        .map(|interval| {
            Scraper::start(
                std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port)),
                interval,
            )
        });

    let mut report: BreachReported = candor_proto::decode_json(INCIDENT_JSON.as_bytes())?;
    report.incident_id = format!("bench-{}", Uuid::new_v4().simple());
    let id = report.incident_id.clone();
    let published = Utc::now();
    publish(environment, &report).await?;
    let accounts: Vec<AffectedAccount> = (0..count)
        .map(|index| AffectedAccount {
            account_id: Uuid::now_v7().to_string(),
            email: format!("member-{index}@example.org"),
            display_name: format!("Member {index}"),
            joined_at: Some(prost_types::Timestamp {
                seconds: 1_200_000_000,
                nanos: 0,
            }),
            ..AffectedAccount::default()
        })
        .collect();
    for (index, chunk) in accounts.chunks(BATCH).enumerate() {
        let batch = AccountsAffected {
            incident_id: id.clone(),
            batch_sequence: u32::try_from(index + 1)?,
            accounts: chunk.to_vec(),
        };
        publish(environment, &batch).await?;
    }
    // Every job queued before the thread link releases them, so the CPU
    // window below covers sending only.
    let mut monitor = sqlx::PgConnection::connect(environment.database.url()).await?;
    let monitor_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut monitor)
        .await?;
    loop {
        let queued: i64 =
            sqlx::query_scalar("SELECT count(*) FROM email_jobs WHERE incident_id = $1")
                .bind(&id)
                .fetch_one(&mut monitor)
                .await?;
        if queued as usize >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let backends: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1",
    )
    .bind(monitor_pid)
    .fetch_all(&mut monitor)
    .await?;
    let backend_ticks = |backends: &[i32]| -> u64 {
        backends
            .iter()
            .map(|pid| process_ticks(u32::try_from(*pid).unwrap_or(0)))
            .sum()
    };
    let before = CpuTicks {
        service: process_ticks(pid),
        sink: sink_ticks(),
        postgres: backend_ticks(&backends),
    };
    // The thread link last, so the notices are queued and go out together.
    publish(
        environment,
        &IncidentThreadOpened {
            incident_id: id.clone(),
            thread_id: Uuid::now_v7().to_string(),
            url: "https://candor.example/forum/threads/1".to_owned(),
            opened_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        },
    )
    .await?;

    let mut peak_rss = 0;
    let deadline = Instant::now() + Duration::from_secs(1800);
    // Progress is the sink's count (free), not a count over the jobs table
    // in the PostgreSQL the service is using (tens of ms each at 100,000
    // jobs); the rate comes from `sent_at` once every job is SENT.
    let already = sink.message_count();
    let mut polls = 0_u64;
    loop {
        polls += 1;
        peak_rss = peak_rss.max(rss_kib(pid, "VmRSS:"));
        let received = sink.message_count() - already;
        if polls.is_multiple_of(20) {
            eprintln!("progress: {received} of {count} received");
        }
        if received >= count || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The last outcomes are written within a few tens of ms.
    loop {
        let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM email_jobs WHERE incident_id = $1 AND state = 'sent'",
        )
        .bind(&id)
        .fetch_one(pool)
        .await?;
        if sent as usize >= count || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = CpuTicks {
        service: process_ticks(pid) - before.service,
        sink: sink_ticks() - before.sink,
        postgres: backend_ticks(&backends) - before.postgres,
    };
    let scrapes = match scraper {
        Some(scraper) => Some(scraper.stop().await),
        None => None,
    };
    peak_rss = peak_rss.max(rss_kib(pid, "VmHWM:"));
    let (first, last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT min(sent_at), max(sent_at) FROM email_jobs WHERE incident_id = $1")
            .bind(&id)
            .fetch_one(pool)
            .await?;
    let (commits, tuples_updated, hot_updated): (i64, i64, i64) = sqlx::query_as(
        "SELECT d.xact_commit, coalesce(t.n_tup_upd, 0), coalesce(t.n_tup_hot_upd, 0) \
         FROM pg_stat_database d \
         LEFT JOIN pg_stat_user_tables t ON t.relname = 'email_jobs' \
         WHERE d.datname = current_database()",
    )
    .fetch_one(pool)
    .await?;
    eprintln!(
        "database: {commits} transactions committed, {tuples_updated} email_jobs row updates, \
         {hot_updated} of them HOT (whole run)"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let wall = last
        .and_then(|last| (last - published).to_std().ok())
        .unwrap_or(Duration::MAX);
    let span = match (first, last) {
        (Some(first), Some(last)) => (last - first).num_milliseconds().max(1) as f64 / 1000.0,
        _ => f64::INFINITY,
    };
    Ok((count as f64 / span, wall, peak_rss, cpu, scrapes))
}

/// The testkit sink's threads in this process (named `smtp-sink…`).
fn sink_ticks() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("smtp-sink"))
        })
        .map(|task| stat_ticks(&task.path().join("stat").display().to_string()))
        .sum()
}

/// Clock ticks (100 per second on Linux) as CPU milliseconds per 1000 messages.
fn per_thousand(ticks: u64, count: usize) -> f64 {
    ticks as f64 * 10.0 * 1000.0 / count as f64
}

/// A `/proc/<pid>/status` size field in KiB (0 when unreadable).
fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or(0)
}
