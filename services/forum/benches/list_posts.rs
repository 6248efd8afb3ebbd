//! ListPosts under concurrent readers, beside a bare tonic unary call.
//!
//! Starts candor-forum in-process against the test PostgreSQL and RabbitMQ
//! (a fresh database), seeds one incident thread with `--posts` posts, then
//! runs `--readers` concurrent readers for `--seconds`, each paging through
//! the thread at its own position. The baseline is the standard gRPC health
//! check served by a server with nothing else on it (the same tonic stack,
//! no database). Prints throughput and latency percentiles for both.
//!
//! `cargo bench -p candor-forum --bench list_posts -- --posts 10000 --readers 200`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use candor_forum::{App, Config};
use candor_platform::grpc::GrpcServer;
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use candor_proto::forum::v1::{CreateThreadRequest, ListPostsRequest};
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use candor_testkit::service::RunningService;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Parser, Debug)]
struct Options {
    /// Posts in the thread.
    #[arg(long, default_value_t = 10_000)]
    posts: u32,
    /// Concurrent readers.
    #[arg(long, default_value_t = 200)]
    readers: usize,
    /// Seconds each measurement runs (after a 2 s warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// ListPosts page size.
    #[arg(long, default_value_t = 50)]
    page_size: u32,
    /// HTTP/2 connections the readers share.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Ignored (cargo bench passes it).
    #[arg(long, hide = true)]
    bench: bool,
}

struct Figures {
    calls: usize,
    errors: usize,
    throughput: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

async fn measure<F, Fut>(readers: usize, seconds: u64, call: F) -> Figures
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let warm_up = Instant::now() + Duration::from_secs(2);
    let end = warm_up + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for reader in 0..readers {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut iteration = 0;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let ok = call(reader, iteration).await;
                iteration += 1;
                if started >= warm_up {
                    latencies.push(started.elapsed());
                    if !ok {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut task_latencies, task_errors) = task.await.unwrap();
        latencies.append(&mut task_latencies);
        errors += task_errors;
    }
    latencies.sort_unstable();
    let at = |quantile: f64| {
        let index =
            ((latencies.len() as f64 * quantile) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or_default()
    };
    Figures {
        calls: latencies.len(),
        errors,
        throughput: latencies.len() as f64 / seconds as f64,
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

fn print(name: &str, figures: &Figures) {
    println!(
        "{name:<28} {:>9.0} calls/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} calls, {} errors)",
        figures.throughput,
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3,
        figures.max.as_secs_f64() * 1e3,
        figures.calls,
        figures.errors
    );
}

async fn channels(url: &str, count: usize) -> Vec<Channel> {
    let mut channels = Vec::new();
    for _ in 0..count.max(1) {
        channels.push(
            Channel::from_shared(url.to_owned())
                .unwrap()
                .tcp_nodelay(true)
                .connect()
                .await
                .unwrap(),
        );
    }
    channels
}

/// Seeds `posts` posts (written by 100 members) into a new incident-style
/// thread in one statement, bypassing the rate limit.
async fn seed(pool: &sqlx::PgPool, client: &mut ForumServiceClient<Channel>, posts: u32) -> String {
    let mut request = tonic::Request::new(CreateThreadRequest {
        board_id: "announcements".to_owned(),
        title: "Benchmark incident".to_owned(),
        body: "The notice.".to_owned(),
        request_id: String::new(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {OPERATOR_TOKEN}").parse().unwrap(),
    );
    let thread = client
        .create_thread(request)
        .await
        .unwrap()
        .into_inner()
        .thread
        .unwrap();
    let thread_id: uuid::Uuid = thread.thread_id.parse().unwrap();
    sqlx::query(
        "INSERT INTO authors (account_id, display_name)
         SELECT gen_random_uuid(), 'Member ' || g FROM generate_series(1, 100) g",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "WITH members AS (SELECT array_agg(account_id) AS ids FROM authors WHERE NOT is_system),
              start AS (SELECT created_at FROM threads WHERE thread_id = $1)
         INSERT INTO posts (post_id, thread_id, seq, author_id, body, created_at)
         SELECT gen_random_uuid(), $1, g, members.ids[1 + g % 100],
                'Question ' || g || ': ' || repeat('what does this mean for my account? ', 8),
                start.created_at + g * interval '1 millisecond'
         FROM generate_series(2, $2) g, members, start",
    )
    .bind(thread_id)
    .bind(i32::try_from(posts).unwrap())
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE threads SET post_count = $2,
                last_activity_at = created_at + $2 * interval '1 millisecond'
         WHERE thread_id = $1",
    )
    .bind(thread_id)
    .bind(i32::try_from(posts).unwrap())
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    thread.thread_id
}

/// Every page token of the thread, walking it once.
async fn page_tokens(
    client: &mut ForumServiceClient<Channel>,
    thread_id: &str,
    page_size: u32,
) -> Vec<String> {
    let mut tokens = vec![String::new()];
    loop {
        let page = client
            .list_posts(ListPostsRequest {
                thread_id: thread_id.to_owned(),
                page_size,
                page_token: tokens.last().cloned().unwrap_or_default(),
            })
            .await
            .unwrap()
            .into_inner();
        if page.next_page_token.is_empty() {
            return tokens;
        }
        tokens.push(page.next_page_token);
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let environment = TestEnvironment::new().await.unwrap();
    let mut common = environment.common_config();
    // Room for every reader's query; PostgreSQL on this machine allows 100.
    common.database.database_max_connections = 32;
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        // ListPosts needs no session; nothing calls the account service.
        account_grpc_url: "http://127.0.0.1:9".to_owned(),
        public_base_url: "https://forum.bench.example".to_owned(),
        post_interval_seconds: 5,
        session_cache_seconds: 30,
        session_cache_capacity: 10_000,
        page_cache_millis: 1000,
        common,
    };
    let app = App::build(config).await.unwrap();
    let addr = app.grpc_addr().unwrap();
    let url = format!("http://{addr}");
    let pool_for_seed = app.pool().clone();
    let mut setup_client = ForumServiceClient::new(channels(&url, 1).await.remove(0));
    let service = RunningService::spawn("candor-forum", addr, |shutdown| app.run_until(shutdown));
    service
        .wait_until_serving(Duration::from_secs(30))
        .await
        .unwrap();
    let thread_id = seed(&pool_for_seed, &mut setup_client, options.posts).await;
    let tokens = Arc::new(page_tokens(&mut setup_client, &thread_id, options.page_size).await);
    println!(
        "ListPosts: {} posts, {} pages of {}, {} readers, {} connections, {} s per run, {} cores",
        options.posts,
        tokens.len(),
        options.page_size,
        options.readers,
        options.connections,
        options.seconds,
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    );

    // The bare call: health check on a server with nothing else.
    let listener = candor_platform::grpc::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let bare_url = format!("http://{}", listener.local_addr().unwrap());
    let stop_bare = CancellationToken::new();
    let stopped = stop_bare.clone();
    tokio::spawn(async move {
        GrpcServer::new()
            .unwrap()
            .serve(listener, stopped.cancelled_owned(), Duration::from_secs(1))
            .await
    });
    let bare_clients: Arc<Vec<HealthClient<Channel>>> = Arc::new(
        channels(&bare_url, options.connections)
            .await
            .into_iter()
            .map(HealthClient::new)
            .collect(),
    );
    let bare = measure(options.readers, options.seconds, move |reader, _| {
        let mut client = bare_clients[reader % bare_clients.len()].clone();
        async move {
            client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
        }
    })
    .await;
    stop_bare.cancel();

    let forum_clients: Arc<Vec<ForumServiceClient<Channel>>> = Arc::new(
        channels(&url, options.connections)
            .await
            .into_iter()
            .map(ForumServiceClient::new)
            .collect(),
    );
    let page_size = options.page_size;
    let forum = measure(
        options.readers,
        options.seconds,
        move |reader, iteration| {
            let mut client = forum_clients[reader % forum_clients.len()].clone();
            let page_token = tokens[(reader * 7919 + iteration) % tokens.len()].clone();
            let thread_id = thread_id.clone();
            async move {
                client
                    .list_posts(ListPostsRequest {
                        thread_id,
                        page_size,
                        page_token,
                    })
                    .await
                    .is_ok()
            }
        },
    )
    .await;

    print("bare tonic unary (health)", &bare);
    print("ListPosts", &forum);
    println!(
        "ListPosts throughput is {:.0} % of the bare call's",
        100.0 * forum.throughput / bare.throughput.max(1.0)
    );
    service.stop().await.unwrap();
    drop(environment);
}
