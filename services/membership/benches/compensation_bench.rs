//! candor-membership's compensation benchmark against the real PostgreSQL
//! and RabbitMQ (a fresh database and RabbitMQ namespace per run). Figures
//! go to BENCHMARKS.md.
//!
//! cargo bench -p candor-membership --no-run, then run the printed binary:
//!   compensation_bench [--accounts N] [--batch-size B] [--concurrency C]
//!                      [--prefetch P] [--connections K]
//!                      [--metrics on|off|both] [--rounds R]
//!                      [--scrape-interval S]
//!
//! 1. Publishes one `breach.reported` (lifetime membership, 2500 USD) and
//!    N accounts as `AccountsAffected` batches of B to the membership queue
//!    (quorum, as in production) before the service runs.
//! 2. Starts the release `candor-membership` binary as its own process and
//!    times spawn → every batch committed (polling `incident_batches`),
//!    sampling the process's RSS; then checks every account has exactly one
//!    ledger entry and a LIFETIME membership.
//! 3. Measures, on the same database, the raw ceiling for the same rows:
//!    COPY into a staging table, then INSERT … ON CONFLICT DO NOTHING into
//!    a copy of the `credits` table with all its indexes; prints the ratio.
//!
//! `--metrics` (default `on`, as the service runs by default): `on` serves
//! metrics and scrapes them every `--scrape-interval` seconds (default 1; 0
//! never) from the spawn to the last commit,
//! `off` runs with `METRICS_ADDR=off`. `both` runs steps 1–2 `--rounds`
//! times (default 3) on and off, alternating, each on a fresh database and
//! namespace, and prints both throughputs and their ratio instead of the
//! raw ceiling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
// Publishing yields the broker's confirmation, itself a future, on purpose:
// confirms are awaited in groups so publishes are pipelined.
#![allow(clippy::async_yields_async)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use candor_platform::messaging::CONTENT_TYPE_PROTOBUF;
use candor_proto::events::v1::{
    AccountsAffected, AffectedAccount, BreachReported, Compensation, CompensationKind, Event,
};
use candor_proto::prost::Message as _;
use candor_testkit::environment::TestEnvironment;
use candor_testkit::metrics::Scraper;
use candor_testkit::overhead::{self, Metrics, SideBySide};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use sqlx::Connection as _;
use uuid::Uuid;

const INCIDENT: &str = "bench-incident";

struct Options {
    accounts: usize,
    batch_size: usize,
    concurrency: u16,
    prefetch: u16,
    connections: u32,
    metrics: String,
    rounds: Option<usize>,
    scrape_interval: Option<Duration>,
}

fn options() -> Options {
    let mut options = Options {
        accounts: 1_000_000,
        batch_size: 500,
        concurrency: 16,
        prefetch: 64,
        connections: 20,
        metrics: "on".to_owned(),
        rounds: None,
        scrape_interval: Some(overhead::SCRAPE_INTERVAL),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--accounts" => options.accounts = value().parse().unwrap(),
            "--batch-size" => options.batch_size = value().parse().unwrap(),
            "--concurrency" => options.concurrency = value().parse().unwrap(),
            "--prefetch" => options.prefetch = value().parse().unwrap(),
            "--connections" => options.connections = value().parse().unwrap(),
            "--metrics" => options.metrics = value(),
            "--rounds" => options.rounds = Some(value().parse().unwrap()),
            "--scrape-interval" => {
                options.scrape_interval = overhead::parse_scrape_interval(&value()).unwrap();
            }
            _ => {} // `--bench` from cargo, and anything else
        }
    }
    options
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn breach() -> BreachReported {
    let mut event: BreachReported = candor_proto::decode_json(include_bytes!(
        "../../../crates/candor-proto/tests/data/breach_reported.json"
    ))
    .unwrap();
    event.incident_id = INCIDENT.to_owned();
    event.compensation = Some(Compensation {
        kind: CompensationKind::LifetimeMembership as i32,
        value_minor_units: 2500,
        currency: "USD".to_owned(),
        duration_days: 0,
        description: "a free upgrade to a lifetime membership (worth $25)".to_owned(),
    });
    event
}

/// Publishes every event with confirms, pipelined; returns the accounts.
async fn publish(environment: &TestEnvironment, options: &Options) -> Vec<Uuid> {
    let channel = environment.broker.channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let exchange = environment.broker.topology().events_exchange();
    // Consumers accept each key only from its owner's user_id: the test
    // broker makes the helper connection's user the owner of every key.
    let user = environment.broker.helper_user();
    let send = |routing_key: &'static str, body: Vec<u8>| {
        let channel = channel.clone();
        let exchange = exchange.clone();
        let user = user.clone();
        async move {
            channel
                .basic_publish(
                    exchange.as_str().into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    BasicProperties::default()
                        .with_content_type(CONTENT_TYPE_PROTOBUF.into())
                        .with_user_id(user.as_str().into())
                        .with_delivery_mode(2),
                )
                .await
                .unwrap()
        }
    };
    send(BreachReported::ROUTING_KEY, breach().encode_to_vec())
        .await
        .await
        .unwrap();
    let mut accounts: Vec<Uuid> = (0..options.accounts).map(|_| Uuid::new_v4()).collect();
    accounts.sort_unstable();
    let mut pending = Vec::new();
    for (index, chunk) in accounts.chunks(options.batch_size).enumerate() {
        let batch = AccountsAffected {
            incident_id: INCIDENT.to_owned(),
            batch_sequence: u32::try_from(index + 1).unwrap(),
            accounts: chunk
                .iter()
                .map(|id| AffectedAccount {
                    account_id: id.to_string(),
                    email: format!("member.{}@example.org", id.simple()),
                    display_name: format!("Member {}", &id.simple().to_string()[..8]),
                    joined_at: Some(prost_types::Timestamp {
                        seconds: 1_200_000_000,
                        nanos: 0,
                    }),
                    ..AffectedAccount::default()
                })
                .collect(),
        };
        pending.push(send(AccountsAffected::ROUTING_KEY, batch.encode_to_vec()).await);
        if pending.len() >= 256 {
            for confirm in pending.drain(..) {
                assert!(confirm.await.unwrap().is_ack());
            }
        }
    }
    for confirm in pending {
        assert!(confirm.await.unwrap().is_ack());
    }
    accounts
}

async fn batches_done(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM incident_batches")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

/// COPY the same rows into a staging table, then INSERT … ON CONFLICT DO
/// NOTHING into a copy of `credits` with all its indexes. Returns seconds.
async fn raw_ceiling_run(database_url: &str, accounts: &[Uuid]) -> (f64, f64, f64) {
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    sqlx::query("CREATE TABLE raw_credits (LIKE credits INCLUDING ALL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut text = String::with_capacity(accounts.len() * 160);
    for account in accounts {
        writeln!(
            text,
            "{}\t{account}\t1\t2500\tUSD\t0\tCompensation for incident raw\traw\tt\t3",
            Uuid::now_v7()
        )
        .unwrap();
    }
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("CREATE TEMP TABLE staging (LIKE credits INCLUDING DEFAULTS) ON COMMIT DROP")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut copy = tx
        .copy_in_raw(
            "COPY staging (credit_id, account_id, kind, value_minor_units, currency, \
             duration_days, reason, incident_id, compensation, tier_after) FROM STDIN",
        )
        .await
        .unwrap();
    copy.send(text.as_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    let copied = started.elapsed().as_secs_f64();
    let inserted = sqlx::query(
        "INSERT INTO raw_credits SELECT * FROM staging \
         ON CONFLICT (account_id, incident_id) WHERE compensation DO NOTHING",
    )
    .execute(&mut *tx)
    .await
    .unwrap()
    .rows_affected();
    tx.commit().await.unwrap();
    let total = started.elapsed().as_secs_f64();
    assert_eq!(inserted, accounts.len() as u64);
    (copied, total - copied, total)
}

#[tokio::main]
async fn main() {
    let options = options();
    let side_by_side = options.metrics == "both";
    let runs = overhead::plan(
        &options.metrics,
        options.rounds.unwrap_or(if side_by_side { 3 } else { 1 }),
    )
    .unwrap();
    let mut results = SideBySide::default();
    for (round, metrics) in runs {
        let load = overhead::load_average();
        println!("round {round}: metrics {}, load {load:.2}", metrics.label());
        let (rate, cpu_ms_per_thousand) = run(&options, metrics, !side_by_side).await;
        results.record(overhead::Run {
            round,
            metrics,
            rate,
            cpu_ms_per_thousand,
            load,
        });
    }
    if side_by_side {
        println!("{}", results.summary("credits"));
    }
}

/// One run on a fresh database and namespace, printed; returns the
/// service's credits per second (from spawn) and its CPU in ms per 1000
/// credits. Measures the raw ceiling after it when `raw_ceiling` is set.
async fn run(options: &Options, metrics: Metrics, raw_ceiling: bool) -> (f64, f64) {
    let environment = TestEnvironment::new().await.unwrap();
    environment.broker.declare_all().await.unwrap();
    let pool = environment.database.pool().clone();
    let batches = options.accounts.div_ceil(options.batch_size);
    println!(
        "compensation bench: {} accounts in {batches} batches of {}, CONSUMER_CONCURRENCY={}, AMQP_PREFETCH={}, DATABASE_MAX_CONNECTIONS={}, metrics {}",
        options.accounts,
        options.batch_size,
        options.concurrency,
        options.prefetch,
        options.connections,
        metrics.label()
    );

    let started = Instant::now();
    let accounts = publish(&environment, options).await;
    println!(
        "published 1 breach.reported + {batches} batches (confirmed) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let metrics_port = candor_testkit::binary::free_port().unwrap();
    let process = environment
        .binary(env!("CARGO_BIN_EXE_candor-membership"))
        .env("GRPC_ADDR", "127.0.0.1:0")
        .env("METRICS_ADDR", metrics.metrics_addr(metrics_port))
        .env("CONSUMER_CONCURRENCY", options.concurrency.to_string())
        .env("AMQP_PREFETCH", options.prefetch.to_string())
        .env("DATABASE_MAX_CONNECTIONS", options.connections.to_string())
        .spawn()
        .unwrap();
    let pid = process.pid();
    let started = Instant::now();
    // From the spawn, as Prometheus would (the ones before the service
    // listens fail, and are counted apart).
    let scraper = options
        .scrape_interval
        .filter(|_| metrics == Metrics::On)
        .map(|interval| {
            Scraper::start(
                std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port)),
                interval,
            )
        });
    let mut peak_rss = 0;
    let mut last_report = Instant::now();
    loop {
        peak_rss = peak_rss.max(rss_kib(pid, "VmRSS:"));
        let done = batches_done(&pool).await;
        if done == i64::try_from(batches).unwrap() {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  … {done} batches after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(started.elapsed() < Duration::from_secs(900), "too slow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let high_water = rss_kib(pid, "VmHWM:");
    let cpu_seconds = cpu_seconds(pid);
    let scrapes = match scraper {
        Some(scraper) => Some(scraper.stop().await),
        None => None,
    };
    let exited = process.terminate(Duration::from_secs(30)).unwrap();
    assert!(exited.status.success(), "{}", exited.stderr);

    let (window,): (f64,) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM max(processed_at) - min(processed_at))::float8 FROM incident_batches",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (credits, lifetimes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(DISTINCT account_id) FROM credits WHERE incident_id = $1 AND kind = 1), \
                (SELECT count(*) FROM memberships WHERE tier = 3)",
    )
    .bind(INCIDENT)
    .fetch_one(&pool)
    .await
    .unwrap();
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM credits")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        credits,
        i64::try_from(accounts.len()).unwrap(),
        "every account credited"
    );
    assert_eq!(entries, credits, "exactly once");
    assert_eq!(lifetimes, credits, "every account LIFETIME");

    let service_rate = accounts.len() as f64 / elapsed;
    println!(
        "service: {} credits in {elapsed:.2} s from process spawn = {service_rate:.0} credits/s \
         (first→last batch commit {window:.2} s = {:.0} credits/s); service CPU {cpu_seconds:.1} s; service RSS peak sampled {:.1} MiB, VmHWM {:.1} MiB",
        accounts.len(),
        accounts.len() as f64 / window.max(f64::EPSILON),
        peak_rss as f64 / 1024.0,
        high_water as f64 / 1024.0,
    );
    match (metrics, options.scrape_interval, scrapes) {
        (Metrics::On, Some(interval), Some(scrapes)) => {
            println!("metrics on, scraped every {interval:?}: {scrapes}");
        }
        (Metrics::On, ..) => println!("metrics on, never scraped"),
        (Metrics::Off, ..) => println!("metrics off (METRICS_ADDR=off)"),
    }

    if raw_ceiling {
        let (copy, insert, total) = raw_ceiling_run(environment.database.url(), &accounts).await;
        let raw_rate = accounts.len() as f64 / total;
        println!(
            "raw ceiling: COPY {copy:.2} s + INSERT … ON CONFLICT DO NOTHING {insert:.2} s = {total:.2} s = {raw_rate:.0} rows/s"
        );
        println!(
            "ratio: service {service_rate:.0} / raw {raw_rate:.0} = {:.0} %",
            100.0 * service_rate / raw_rate
        );
    }
    let credits_per_thousand = accounts.len() as f64 / 1000.0;
    (service_rate, cpu_seconds * 1000.0 / credits_per_thousand)
}

/// User + system CPU seconds the process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |both| {
        both.iter().filter_map(|f| f.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}
