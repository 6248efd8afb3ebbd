//! The send-rate limit (`SEND_RATE_PER_SECOND`) held by several replicas
//! together: N release `candor-notification` binaries against one
//! database, one RabbitMQ namespace and the testkit SMTP sink send one
//! queued incident of `rate × seconds` notices; the aggregate rate in every
//! `--window`-second window (from the database's `sent_at`) is compared to
//! the setting.
//!
//! `cargo bench -p candor-notification --bench send_rate -- --rate 200 --replicas 1,2,4 --seconds 60`
//! (`--window 10`, `--concurrency 1`: SMTP_CONCURRENCY per replica). Needs
//! PostgreSQL and RabbitMQ like the tests. The testkit sink serves
//! `SINK_CONNECTIONS` (32) connections at once (a thread each; one more
//! waits for one to close), so the replicas together must keep fewer open
//! (the results in BENCHMARKS.md ran against a sink of eight): one connection sends far
//! more than 200 a second to the sink. `CANDOR_BENCH_SERVICE_BINARY`
//! runs another build of the service (say, the one before a change).
//!
//! Windows: every window of `--window` seconds within the run (first to last
//! `sent_at`), sliding: the fullest starts at some send, the emptiest just
//! after one. The first window starts at the first send, with the shared
//! bucket full (it filled while the notices waited for their thread link).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use candor_platform::auth::Caller;
use candor_proto::events::v1::{
    AccountsAffected, AffectedAccount, BreachReported, IncidentThreadOpened,
};
use candor_testkit::environment::{
    OPERATOR_TOKEN, TestEnvironment, caller_token, caller_tokens_setting,
};
use candor_testkit::smtp::SmtpSink;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/inputs.rs"]
mod inputs;
use inputs::{publish, string_argument};

const INCIDENT_JSON: &str =
    include_str!("../../../crates/candor-proto/tests/data/breach_reported.json");
const BATCH: usize = 500;
/// SMTP connections the testkit sink serves at once, less one for the
/// replicas' health probes.
const SINK_CONNECTIONS: usize = candor_testkit::smtp::SINK_CONNECTIONS as usize - 1;

fn number_argument(name: &str, default: f64) -> f64 {
    string_argument(name)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The bench's settings.
#[derive(Debug, Clone, Copy)]
struct Settings {
    rate: f64,
    seconds: f64,
    window: f64,
    concurrency: usize,
}

/// What one replica count measured.
struct Measured {
    replicas: usize,
    notices: usize,
    span: f64,
    first_window: usize,
    min_window: usize,
    max_window: usize,
    windows: usize,
    shares: Vec<f64>,
    transactions_per_second: f64,
    service_cpu_ms_per_second: f64,
    postgres_cpu_ms_per_second: f64,
}

fn main() -> anyhow::Result<()> {
    let settings = Settings {
        rate: number_argument("--rate", 200.0),
        seconds: number_argument("--seconds", 60.0),
        window: number_argument("--window", 10.0),
        concurrency: number_argument("--concurrency", 1.0) as usize,
    };
    anyhow::ensure!(settings.rate > 0.0, "--rate must be above 0");
    anyhow::ensure!(
        settings.seconds >= 2.0 * settings.window,
        "--seconds must be at least two windows"
    );
    let replica_counts: Vec<usize> = string_argument("--replicas")
        .unwrap_or_else(|| "1,2,4".to_owned())
        .split(',')
        .map(|count| count.trim().parse())
        .collect::<Result<_, _>>()?;
    let most_replicas = replica_counts.iter().copied().max().unwrap_or(1);
    anyhow::ensure!(
        settings.concurrency >= 1 && most_replicas * settings.concurrency <= SINK_CONNECTIONS,
        "{most_replicas} replicas × --concurrency {} connections: the sink serves {SINK_CONNECTIONS} at once",
        settings.concurrency
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sink = SmtpSink::start()?;
        let mut results = Vec::new();
        for replicas in replica_counts {
            eprintln!(
                "{replicas} replica(s) at {} per second for {} s",
                settings.rate, settings.seconds
            );
            results.push(run(&sink, replicas, settings).await?);
            print_table(settings, &results);
        }
        anyhow::Ok(())
    })
}

fn print_table(settings: Settings, results: &[Measured]) {
    let per_second = |count: usize| count as f64 / settings.window;
    let deviation = |count: usize| 100.0 * (per_second(count) - settings.rate) / settings.rate;
    println!(
        "\nSEND_RATE_PER_SECOND={}, windows of {} s (sliding), SMTP_CONCURRENCY={} per replica",
        settings.rate, settings.window, settings.concurrency
    );
    println!(
        "| replicas | notices | first to last send | mean rate | first window | min window | max window | worst deviation | windows within ±5 % | per-replica share | transactions/s | CPU ms/s: services, PostgreSQL |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |");
    for measured in results {
        let worst = [
            measured.min_window,
            measured.max_window,
            measured.first_window,
        ]
        .into_iter()
        .map(deviation)
        .fold(0.0_f64, |worst, value| {
            if value.abs() > worst.abs() {
                value
            } else {
                worst
            }
        });
        let within = deviation(measured.min_window).abs() <= 5.0
            && deviation(measured.max_window).abs() <= 5.0;
        let shares: Vec<String> = measured
            .shares
            .iter()
            .map(|share| format!("{:.1} %", 100.0 * share))
            .collect();
        println!(
            "| {} | {} | {:.2} s | {:.1}/s | {:.1}/s ({:+.1} %) | {:.1}/s ({:+.1} %) | {:.1}/s ({:+.1} %) | {:+.1} % | {} ({} windows) | {} | {:.1} | {:.1}, {:.1} |",
            measured.replicas,
            measured.notices,
            measured.span,
            (measured.notices - 1) as f64 / measured.span,
            per_second(measured.first_window),
            deviation(measured.first_window),
            per_second(measured.min_window),
            deviation(measured.min_window),
            per_second(measured.max_window),
            deviation(measured.max_window),
            worst,
            if within { "yes" } else { "NO" },
            measured.windows,
            shares.join(" / "),
            measured.transactions_per_second,
            measured.service_cpu_ms_per_second,
            measured.postgres_cpu_ms_per_second,
        );
    }
}

/// Starts one replica.
fn spawn_replica(
    environment: &TestEnvironment,
    sink: &SmtpSink,
    settings: Settings,
) -> anyhow::Result<Child> {
    let binary = std::env::var_os("CANDOR_BENCH_SERVICE_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_candor-notification").into());
    let port = candor_testkit::binary::free_port()?;
    Ok(Command::new(binary)
        .env("DATABASE_URL", environment.database.url())
        .env("DATABASE_MAX_CONNECTIONS", "8")
        .envs(candor_testkit::rabbitmq::amqp_settings(
            &environment.broker.config(),
        ))
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("SERVICE_TOKEN", caller_token(Caller::Notification))
        .env("CALLER_TOKENS", caller_tokens_setting())
        .env("GRPC_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", "off")
        .env("SMTP_URL", sink.url())
        .env("ORGANISATION_NAME", "Candor Books")
        .env("SEND_RATE_PER_SECOND", settings.rate.to_string())
        .env("SMTP_CONCURRENCY", settings.concurrency.to_string())
        .env("THREAD_LINK_WAIT_SECONDS", "3600")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?)
}

/// Waits for `what` up to `limit`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    while !done().await? {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The running replicas; stopped (SIGTERM, then SIGKILL) when dropped, so
/// a failed run leaves none behind (they would hold the bench lock).
struct Replicas(Vec<Child>);

impl Replicas {
    fn pids(&self) -> Vec<u32> {
        self.0.iter().map(Child::id).collect()
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for child in &mut self.0 {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One replica count on a fresh database and namespace.
async fn run(sink: &SmtpSink, replicas: usize, settings: Settings) -> anyhow::Result<Measured> {
    let environment = TestEnvironment::new().await?;
    let pool = environment.database.pool();
    let mut children = Replicas(vec![spawn_replica(&environment, sink, settings)?]);
    // The first migrates; the others start on the migrated database.
    wait_until(Duration::from_secs(60), "the migrations", || async {
        let ready: Option<bool> =
            sqlx::query_scalar("SELECT to_regclass('email_jobs') IS NOT NULL")
                .fetch_optional(pool)
                .await
                .ok()
                .flatten();
        Ok(ready == Some(true))
    })
    .await?;
    for _ in 1..replicas {
        children
            .0
            .push(spawn_replica(&environment, sink, settings)?);
    }
    // Every replica's sender runs once its lease is there (a build before
    // leases has none: then a few seconds for them to start).
    let leases_table: Option<bool> =
        sqlx::query_scalar("SELECT to_regclass('sender_leases') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if leases_table == Some(true) {
        wait_until(Duration::from_secs(60), "every replica's lease", || async {
            let leases: i64 = sqlx::query_scalar("SELECT count(*) FROM sender_leases")
                .fetch_one(pool)
                .await?;
            Ok(leases as usize >= replicas)
        })
        .await?;
    } else {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    environment.broker.declare_all().await?;

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let notices = (settings.rate * settings.seconds).round() as usize;
    let mut report: BreachReported = candor_proto::decode_json(INCIDENT_JSON.as_bytes())?;
    report.incident_id = format!("rate-{}", Uuid::new_v4().simple());
    let id = report.incident_id.clone();
    publish(&environment, &report).await?;
    let accounts: Vec<AffectedAccount> = (0..notices)
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
        publish(
            &environment,
            &AccountsAffected {
                incident_id: id.clone(),
                batch_sequence: u32::try_from(index + 1)?,
                accounts: chunk.to_vec(),
            },
        )
        .await?;
    }
    wait_until(Duration::from_secs(300), "every notice queued", || async {
        let queued: i64 =
            sqlx::query_scalar("SELECT count(*) FROM email_jobs WHERE incident_id = $1")
                .bind(&id)
                .fetch_one(pool)
                .await?;
        Ok(queued as usize >= notices)
    })
    .await?;
    // Let the bucket fill up, as it does while an incident's notices wait.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let backends: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(pool)
    .await?;
    let pids = children.pids();
    let service_ticks = || -> u64 { pids.iter().map(|pid| cpu::process_ticks(*pid)).sum() };
    let backend_ticks = |backends: &[i32]| -> u64 {
        backends
            .iter()
            .map(|pid| cpu::process_ticks(u32::try_from(*pid).unwrap_or(0)))
            .sum()
    };
    let commits = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(pool)
        .await
    };
    let already = sink.message_count();
    let service_before = service_ticks();
    let backends_before = backend_ticks(&backends);
    let commits_before = commits().await?;
    let started = Instant::now();
    publish(
        &environment,
        &IncidentThreadOpened {
            incident_id: id.clone(),
            thread_id: Uuid::now_v7().to_string(),
            url: "https://candor.example/forum/threads/1".to_owned(),
            opened_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        },
    )
    .await?;
    let limit = Duration::from_secs_f64(settings.seconds * 3.0 + 60.0);
    wait_until(limit, "every notice accepted by the sink", || async {
        Ok(sink.message_count() - already >= notices)
    })
    .await?;
    wait_until(
        Duration::from_secs(30),
        "every notice recorded sent",
        || async {
            let sent: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM email_jobs WHERE incident_id = $1 AND state = 'sent'",
            )
            .bind(&id)
            .fetch_one(pool)
            .await?;
            Ok(sent as usize >= notices)
        },
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let service_ms = (service_ticks() - service_before) as f64 * 10.0;
    let postgres_ms = (backend_ticks(&backends) - backends_before) as f64 * 10.0;
    // The bench's own queries (a count every 100 ms) are a few of these.
    let transactions = (commits().await? - commits_before) as f64;

    let shares = replica_shares(pool, &id, &pids).await?;
    let sent: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT sent_at FROM email_jobs WHERE incident_id = $1 AND state = 'sent' ORDER BY sent_at",
    )
    .bind(&id)
    .fetch_all(pool)
    .await?;
    drop(children);
    sink.take_messages();

    let first = sent[0];
    let seconds: Vec<f64> = sent
        .iter()
        .map(|at| (*at - first).num_microseconds().unwrap_or(0) as f64 / 1e6)
        .collect();
    let windows = Windows::count(&seconds, settings.window);
    Ok(Measured {
        replicas,
        notices,
        span: seconds[seconds.len() - 1],
        first_window: windows.first,
        min_window: windows.min,
        max_window: windows.max,
        windows: windows.windows,
        shares,
        transactions_per_second: transactions / elapsed,
        service_cpu_ms_per_second: service_ms / elapsed,
        postgres_cpu_ms_per_second: postgres_ms / elapsed,
    })
}

/// Each replica's share of the notices sent, by the lease each was claimed
/// under (`email_jobs.claimed_by`; the lease's holder names the process).
/// Empty for a build without leases.
async fn replica_shares(
    pool: &sqlx::PgPool,
    incident_id: &str,
    pids: &[u32],
) -> anyhow::Result<Vec<f64>> {
    let has_leases: Option<bool> =
        sqlx::query_scalar("SELECT to_regclass('sender_leases') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if has_leases != Some(true) {
        return Ok(Vec::new());
    }
    let by_holder: Vec<(String, i64)> = sqlx::query_as(
        "SELECT l.holder, count(*) FROM email_jobs j JOIN sender_leases l ON l.lease_id = j.claimed_by \
         WHERE j.incident_id = $1 AND j.state = 'sent' GROUP BY l.holder",
    )
    .bind(incident_id)
    .fetch_all(pool)
    .await?;
    let by_pid: HashMap<u32, i64> = by_holder
        .into_iter()
        .filter_map(|(holder, count)| Some((holder.rsplit('/').next()?.parse().ok()?, count)))
        .collect();
    let total: i64 = by_pid.values().sum();
    Ok(pids
        .iter()
        .map(|pid| by_pid.get(pid).copied().unwrap_or(0) as f64 / total.max(1) as f64)
        .collect())
}

/// Notices per window over a run.
#[derive(Debug, PartialEq, Eq)]
struct Windows {
    /// In the window starting at the first send.
    first: usize,
    /// The fewest in any window within the run.
    min: usize,
    /// The most in any window within the run.
    max: usize,
    /// The windows looked at (two per send that starts one).
    windows: usize,
}

impl Windows {
    /// `seconds`: the sends, sorted, from 0. Windows `[s, s + width)` start at
    /// each send (the fullest windows start at one) and `(s, s + width]`
    /// just after each (the emptiest do), for every `s + width` within the
    /// run.
    fn count(seconds: &[f64], width: f64) -> Self {
        let last = seconds.last().copied().unwrap_or(0.0);
        let before = |time: f64| seconds.partition_point(|at| *at < time);
        let up_to = |time: f64| seconds.partition_point(|at| *at <= time);
        let mut windows = Self {
            first: before(width),
            min: usize::MAX,
            max: 0,
            windows: 0,
        };
        for &at in seconds.iter().take_while(|at| **at + width <= last) {
            windows.max = windows.max.max(before(at + width) - before(at));
            windows.min = windows.min.min(up_to(at + width) - up_to(at));
            windows.windows += 2;
        }
        if windows.windows == 0 {
            windows.min = 0;
        }
        windows
    }
}
