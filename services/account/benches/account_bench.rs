//! candor-account benchmarks against the real PostgreSQL and RabbitMQ (a
//! fresh database and RabbitMQ namespace per run), with the service running
//! in this process. Figures go to BENCHMARKS.md.
//!
//! cargo bench -p candor-account --no-run, then run the printed binary:
//!   account_bench [import|enumerate|login|all] [--accounts N] [--seconds S]
//!
//! `import` streams N legacy members (salted SHA-1) through ImportAccounts;
//! `enumerate` then reports a breach affecting all of them and times
//! `breach.reported` published → EnumerationCompleted routed by the broker;
//! `login` measures argon2id logins per second and ValidateSession latency
//! while logins saturate the hashing pool. Peak RSS is the whole process
//! (service plus load generator), an upper bound for the service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use candor_platform::service::ServiceApp as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use candor_account::{App, Config};
use candor_platform::auth::Caller;
use candor_platform::messaging::QueueSpec;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::account::v1::*;
use candor_proto::events::v1::{
    BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED, BreachReported, EnumerationCompleted,
    PasswordResetScope,
};
use candor_proto::prost::Message as _;
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment, caller_token};
use candor_testkit::service::RunningService;
use sha1::{Digest as _, Sha1};
use tonic::Request;
use tonic::transport::Channel;

const PASSWORD: &str = "correct horse battery staple";

struct Options {
    mode: String,
    accounts: u64,
    seconds: u64,
}

fn options() -> Options {
    let mut options = Options {
        mode: "all".to_owned(),
        accounts: 1_000_000,
        seconds: 15,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--accounts" => options.accounts = args.next().unwrap().parse().unwrap(),
            "--seconds" => options.seconds = args.next().unwrap().parse().unwrap(),
            "--bench" => {}
            mode if !mode.starts_with('-') => options.mode = mode.to_owned(),
            _ => {}
        }
    }
    options
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn with_token<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

struct Bench {
    environment: TestEnvironment,
    _service: RunningService,
    client: AccountServiceClient<Channel>,
}

async fn start() -> Bench {
    let environment = TestEnvironment::new().await.unwrap();
    let mut common = environment.common_config(candor_platform::auth::Caller::Account);
    common.database.database_max_connections = 20;
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
        public_base_url: "http://localhost:8080".to_owned(),
        notification_grpc_url: "http://127.0.0.1:9".to_owned(),
        legacy_hash_key: "bench-legacy-hash-key-0123456789abcdef".into(),
        session_ttl_seconds: 3600,
        password_hashing_concurrency: 0,
        login_failures_per_account: 5,
        login_failures_per_address: 20,
        requests_per_address_per_hour: 20,
        argon2_max_memory_kib: 47_104,
        argon2_max_iterations: 5,
        argon2_max_parallelism: 1,
        pwned_passwords_url: None,
        pwned_passwords_timeout_ms: 2000,
        parking: candor_platform::parking::ParkingConfig::default(),
        common,
    };
    let app = App::build(config).await.unwrap();
    let service = RunningService::spawn("candor-account", app.grpc_addr().unwrap(), |shutdown| {
        app.run_until(shutdown)
    });
    service
        .wait_until_serving(Duration::from_secs(30))
        .await
        .unwrap();
    let client = AccountServiceClient::new(service.channel().await.unwrap())
        .max_decoding_message_size(64 * 1024 * 1024);
    Bench {
        environment,
        _service: service,
        client,
    }
}

async fn import(bench: &Bench, accounts: u64) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<ImportAccountsRequest>(4);
    tokio::spawn(async move {
        let mut line = 0u64;
        while line < accounts {
            let records = (0..500.min(accounts - line))
                .map(|_| {
                    line += 1;
                    let salt = format!("s{line:x}");
                    ImportRecord {
                        line_number: line,
                        email: format!("member{line}@example.com"),
                        display_name: format!("Member {line}"),
                        joined_at: Some(prost_types::Timestamp {
                            seconds: 1_262_304_000 + i64::try_from(line).unwrap(),
                            nanos: 0,
                        }),
                        password_hash: Some(LegacyPasswordHash {
                            algorithm: LegacyHashAlgorithm::SaltedSha1 as i32,
                            hash: hex::encode(Sha1::digest(format!("{salt}{PASSWORD}"))),
                            salt,
                        }),
                    }
                })
                .collect();
            if sender
                .send(ImportAccountsRequest { records })
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let started = Instant::now();
    let response = bench
        .client
        .clone()
        .import_accounts(with_token(
            OPERATOR_TOKEN,
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        ))
        .await
        .unwrap()
        .into_inner();
    let elapsed = started.elapsed();
    assert_eq!(
        response.imported,
        accounts,
        "{:?}",
        response.rejections.first()
    );
    println!(
        "import: {accounts} records in {:.1} s = {:.0} records/s; peak RSS (process) {:.0} MiB",
        elapsed.as_secs_f64(),
        accounts as f64 / elapsed.as_secs_f64(),
        peak_rss_mib()
    );
}

async fn enumerate(bench: &Bench, accounts: u64) {
    let broker = &bench.environment.broker;
    let observer = broker
        .declare_queue(&QueueSpec::new("observer", [BREACH_ENUMERATION_COMPLETED]))
        .await
        .unwrap();
    let mut event: BreachReported = candor_proto::decode_json(include_bytes!(
        "../../../crates/candor-proto/tests/data/breach_reported.json"
    ))
    .unwrap();
    event.incident_id = "bench".to_owned();
    event.affected_joined_before = Some(prost_types::Timestamp {
        seconds: 1_300_000_000 + i64::try_from(accounts).unwrap(),
        nanos: 0,
    });
    event.password_reset_scope = PasswordResetScope::Affected as i32;
    let rss_before = peak_rss_mib();
    let started = Instant::now();
    broker
        .publish_raw(BREACH_REPORTED, None, &event.encode_to_vec())
        .await
        .unwrap();
    let completed = loop {
        if let Some(message) = broker.get(&observer).await.unwrap() {
            break EnumerationCompleted::decode(message.body.as_slice()).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    assert_eq!(completed.affected_accounts, accounts);
    println!(
        "enumerate: {accounts} affected, {} batches, EnumerationCompleted routed after {:.1} s; peak RSS (process) {:.0} MiB before, {:.0} MiB after",
        completed.batch_count,
        elapsed.as_secs_f64(),
        rss_before,
        peak_rss_mib()
    );
}

async fn login(bench: &Bench, seconds: u64) {
    let mut client = bench.client.clone();
    let members = 64;
    for index in 0..members {
        client
            .register(RegisterRequest {
                email: format!("login{index}@example.com"),
                display_name: format!("Login {index}"),
                password: PASSWORD.to_owned(),
            })
            .await
            .map(|_| ())
            .or_else(|status| {
                // Registrations are rate-limited per address: seed the rest directly.
                if status.code() == tonic::Code::ResourceExhausted {
                    Ok(())
                } else {
                    Err(status)
                }
            })
            .unwrap();
    }
    let pool = bench.environment.database.pool();
    sqlx::query(
        "INSERT INTO accounts (account_id, email, display_name, joined_at, password_hash)
         SELECT gen_random_uuid(), 'login' || n || '@example.com', 'Login ' || n, now(),
                (SELECT password_hash FROM accounts WHERE email = 'login0@example.com')
         FROM generate_series(0, $1) n
         ON CONFLICT DO NOTHING",
    )
    .bind(members - 1)
    .execute(pool)
    .await
    .unwrap();
    let session = match client
        .login(LoginRequest {
            email: "login0@example.com".to_owned(),
            password: PASSWORD.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap()
    {
        login_response::Result::Session(session) => session.session_token,
        other => panic!("{other:?}"),
    };

    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let mut client = bench.client.clone();
        let stop = Arc::clone(&stop);
        let logins = Arc::clone(&logins);
        workers.push(tokio::spawn(async move {
            let mut index = worker;
            while !stop.load(Ordering::Relaxed) {
                client
                    .login(LoginRequest {
                        email: format!("login{}@example.com", index % members),
                        password: PASSWORD.to_owned(),
                    })
                    .await
                    .unwrap();
                logins.fetch_add(1, Ordering::Relaxed);
                index += 8;
            }
        }));
    }
    let mut validator = bench.client.clone();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let call = Instant::now();
        validator
            .validate_session(with_token(
                caller_token(Caller::Forum),
                ValidateSessionRequest {
                    session_token: session.clone(),
                },
            ))
            .await
            .unwrap();
        latencies.push(call.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "login: {:.1} logins/s over {:.0} s with 8 concurrent clients; ValidateSession meanwhile: {} calls, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        logins.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        latencies.len(),
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0,
    );
}

#[tokio::main]
async fn main() {
    let options = options();
    // RUST_LOG=candor_account=debug prints the service's stage timings (the
    // split in BENCHMARKS.md); without it no subscriber adds its overhead.
    if std::env::var_os("RUST_LOG").is_some() {
        candor_testkit::tracing::init();
    }
    let bench = start().await;
    match options.mode.as_str() {
        "import" => import(&bench, options.accounts).await,
        "enumerate" => {
            import(&bench, options.accounts).await;
            enumerate(&bench, options.accounts).await;
        }
        "login" => login(&bench, options.seconds).await,
        _ => {
            import(&bench, options.accounts).await;
            enumerate(&bench, options.accounts).await;
            login(&bench, options.seconds).await;
        }
    }
}
