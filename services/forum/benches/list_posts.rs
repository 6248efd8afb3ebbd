//! ListPosts under concurrent readers, beside a bare tonic unary call.
//!
//! Starts candor-forum in-process against the test PostgreSQL and RabbitMQ
//! (a fresh database), seeds one incident thread with `--posts` posts, then
//! runs `--readers` concurrent readers for `--seconds`, each paging through
//! the thread at its own position. The baseline is the standard gRPC health
//! check served by a server with nothing else on it (the same tonic stack,
//! no database). Prints throughput and latency percentiles for both.
//!
//! Both calls are driven the same way: a plain `tonic::client::Grpc` unary
//! call over the same kind of channels, through [`ProbeCodec`], which encodes
//! the request with prost and decodes and checks one response in
//! `--decode-every` (the others are skipped unread). The load generator
//! shares the machine's cores with the server, and fully decoding a 50-post
//! page (~15 KB, ~350 strings) costs the client as much CPU as the server
//! spends answering it or more (15-30 us against ~20 us here), while the bare
//! call's reply is one enum; with sampling the figures measure the server.
//! `--decode-every 1` decodes everything, as a real client would. The two
//! calls are measured alternately for `--rounds` rounds, so both see the same
//! share of a shared machine; the median ratio is the headline.
//!
//! `cargo bench -p candor-forum --bench list_posts -- --posts 10000 --readers 200`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use candor_platform::service::ServiceApp as _;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candor_forum::{App, Config};
use candor_platform::grpc::GrpcServer;
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use candor_proto::forum::v1::{CreateThreadRequest, ListPostsRequest, ListPostsResponse};
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use candor_testkit::service::RunningService;
use clap::Parser;
use prost::Message;
use prost::bytes::Buf as _;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

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
    /// The forum's page cache TTL (`FORUM_PAGE_CACHE_MILLIS`; 0 turns it off).
    #[arg(long, default_value_t = 1000)]
    page_cache_millis: u64,
    /// Rounds of (bare call, ListPosts), measured alternately so both see the
    /// same machine: other work on a shared machine comes and goes.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Each reader decodes and checks one response in this many (1: all).
    #[arg(long, default_value_t = 100)]
    decode_every: usize,
    /// Ignored (cargo bench passes it).
    #[arg(long, hide = true)]
    bench: bool,
}

struct Figures {
    calls: usize,
    errors: usize,
    throughput: f64,
    /// CPU time of the whole process (server and load generator) per call.
    cpu_per_call: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

async fn measure<F, Fut>(readers: usize, seconds: u64, call: Arc<F>) -> Figures
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
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
    tokio::time::sleep_until(warm_up.into()).await;
    let cpu_at_start = process_cpu();
    tokio::time::sleep_until(end.into()).await;
    let cpu = process_cpu().saturating_sub(cpu_at_start);
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
        cpu_per_call: cpu / u32::try_from(latencies.len().max(1)).unwrap_or(u32::MAX),
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

/// CPU time used so far by every thread of this process (from the
/// scheduler's per-thread nanosecond counters).
fn process_cpu() -> Duration {
    let mut nanos = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(task) = task else { continue };
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        nanos += stat
            .split_whitespace()
            .next()
            .and_then(|on_cpu| on_cpu.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(nanos)
}

fn print(name: &str, figures: &Figures) {
    println!(
        "{name:<28} {:>9.0} calls/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  cpu {:>4.0} us/call  ({} calls, {} errors)",
        figures.throughput,
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3,
        figures.max.as_secs_f64() * 1e3,
        figures.cpu_per_call.as_secs_f64() * 1e6,
        figures.calls,
        figures.errors
    );
}

/// What a decoded response must satisfy.
type Check<Resp> = Arc<dyn Fn(&Resp) -> bool + Send + Sync>;

/// A response as the load generator saw it: `valid` is false when it was
/// decoded and failed its check.
struct Received {
    valid: bool,
}

/// Encodes `Req` with prost. A response is decoded as `Resp` and checked
/// when `decode` is set; otherwise its bytes are skipped unread.
struct ProbeCodec<Req, Resp> {
    decode: bool,
    check: Check<Resp>,
    _request: PhantomData<fn(Req)>,
}

impl<Req, Resp> ProbeCodec<Req, Resp> {
    fn new(decode: bool, check: Check<Resp>) -> Self {
        Self {
            decode,
            check,
            _request: PhantomData,
        }
    }
}

impl<Req, Resp> Codec for ProbeCodec<Req, Resp>
where
    Req: Message + Send + 'static,
    Resp: Message + Default + Send + 'static,
{
    type Encode = Req;
    type Decode = Received;
    type Encoder = ProbeEncoder<Req>;
    type Decoder = ProbeDecoder<Resp>;

    fn encoder(&mut self) -> Self::Encoder {
        ProbeEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProbeDecoder {
            decode: self.decode,
            check: self.check.clone(),
        }
    }
}

struct ProbeEncoder<Req>(PhantomData<fn(Req)>);

impl<Req: Message> Encoder for ProbeEncoder<Req> {
    type Item = Req;
    type Error = Status;

    fn encode(&mut self, item: Req, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|error| Status::internal(error.to_string()))
    }
}

struct ProbeDecoder<Resp> {
    decode: bool,
    check: Check<Resp>,
}

impl<Resp: Message + Default> Decoder for ProbeDecoder<Resp> {
    type Item = Received;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Received>, Status> {
        if !self.decode {
            src.advance(src.remaining());
            return Ok(Some(Received { valid: true }));
        }
        let response = Resp::decode(src).map_err(|error| Status::internal(error.to_string()))?;
        Ok(Some(Received {
            valid: (self.check)(&response),
        }))
    }
}

/// One unary call through [`ProbeCodec`]; true when it succeeded and, if
/// decoded, passed `check`.
async fn probe<Req, Resp>(
    channel: Channel,
    path: &'static str,
    request: Req,
    decode: bool,
    check: Check<Resp>,
) -> bool
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    if grpc.ready().await.is_err() {
        return false;
    }
    grpc.unary(
        tonic::Request::new(request),
        PathAndQuery::from_static(path),
        ProbeCodec::new(decode, check),
    )
    .await
    .is_ok_and(|response| response.into_inner().valid)
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
    let mut common = environment.common_config(candor_platform::auth::Caller::Forum);
    // Room for every reader's query; PostgreSQL on this machine allows 100.
    common.database.database_max_connections = 32;
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
        // ListPosts needs no session; nothing calls the account service.
        account_grpc_url: "http://127.0.0.1:9".to_owned(),
        public_base_url: "https://forum.bench.example".to_owned(),
        post_interval_seconds: 5,
        session_cache_seconds: 1,
        session_cache_capacity: 10_000,
        page_cache_millis: options.page_cache_millis,
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
        "ListPosts: {} posts, {} pages of {}, page cache {} ms, {} readers, {} connections, {} s per run, 1 response in {} decoded, {} cores",
        options.posts,
        tokens.len(),
        options.page_size,
        options.page_cache_millis,
        options.readers,
        options.connections,
        options.seconds,
        options.decode_every.max(1),
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
    let guard = candor_platform::grpc::Guard::new(
        candor_platform::auth::Credentials::new(
            &environment
                .common_config(candor_platform::auth::Caller::Forum)
                .auth,
        )
        .unwrap(),
        candor_platform::auth::forwarded::ProxyTrust::default(),
    );
    tokio::spawn(async move {
        GrpcServer::new(guard, candor_platform::grpc::Limits::default())
            .unwrap()
            .serve(listener, stopped.cancelled_owned(), Duration::from_secs(1))
            .await
    });
    let decode_every = options.decode_every.max(1);
    let serving: Check<HealthCheckResponse> =
        Arc::new(|response| response.status == ServingStatus::Serving as i32);
    let bare_channels = Arc::new(channels(&bare_url, options.connections).await);
    let bare_call = Arc::new(move |reader: usize, iteration: usize| {
        probe(
            bare_channels[reader % bare_channels.len()].clone(),
            "/grpc.health.v1.Health/Check",
            HealthCheckRequest {
                service: String::new(),
            },
            iteration.is_multiple_of(decode_every),
            serving.clone(),
        )
    });

    let forum_channels = Arc::new(channels(&url, options.connections).await);
    let page_size = options.page_size;
    // Every page is full except the last, which has no next token.
    let whole_page: Check<ListPostsResponse> = Arc::new(move |page| {
        !page.posts.is_empty()
            && page.posts.iter().all(|post| !post.body.is_empty())
            && (page.posts.len() == page_size as usize || page.next_page_token.is_empty())
    });
    let forum_call = Arc::new(move |reader: usize, iteration: usize| {
        probe(
            forum_channels[reader % forum_channels.len()].clone(),
            "/candor.forum.v1.ForumService/ListPosts",
            ListPostsRequest {
                thread_id: thread_id.clone(),
                page_size,
                page_token: tokens[(reader * 7919 + iteration) % tokens.len()].clone(),
            },
            iteration.is_multiple_of(decode_every),
            whole_page.clone(),
        )
    });

    let mut ratios = Vec::new();
    for round in 1..=options.rounds.max(1) {
        let bare = measure(options.readers, options.seconds, bare_call.clone()).await;
        let forum = measure(options.readers, options.seconds, forum_call.clone()).await;
        let ratio = 100.0 * forum.throughput / bare.throughput.max(1.0);
        println!("round {round}:");
        print("bare tonic unary (health)", &bare);
        print("ListPosts", &forum);
        println!("ListPosts throughput is {ratio:.0} % of the bare call's");
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median over {} rounds: ListPosts throughput is {:.0} % of the bare call's",
        ratios.len(),
        ratios[ratios.len() / 2]
    );
    stop_bare.cancel();
    service.stop().await.unwrap();
    drop(environment);
}
