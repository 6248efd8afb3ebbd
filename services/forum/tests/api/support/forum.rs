//! A forum running in-process against its own database and RabbitMQ
//! namespace, with the account double, and typed helpers for the tests.

use candor_platform::service::ServiceApp as _;
use std::time::{Duration, Instant};

use candor_forum::{App, Config};
use candor_proto::events::v1::{BreachReported, Event};
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use candor_proto::forum::v1::*;
use candor_testkit::environment::{OPERATOR_TOKEN, TestEnvironment};
use candor_testkit::service::RunningService;
use tonic::transport::Channel;

use super::accounts::{AccountDouble, Member};

pub const PUBLIC_BASE_URL: &str = "https://forum.test.example";

pub struct TestForum {
    pub environment: TestEnvironment,
    pub accounts: AccountDouble,
    pub service: RunningService,
    pub client: ForumServiceClient<Channel>,
    /// Where the service serves its metrics.
    pub metrics_addr: std::net::SocketAddr,
}

/// Settings the tests vary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub post_interval_seconds: u32,
}

impl TestForum {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        candor_testkit::tracing::init();
        let environment = TestEnvironment::new().await.unwrap();
        let accounts = AccountDouble::start().await;
        let app = App::build(config(&environment, &accounts.url, options))
            .await
            .unwrap();
        let metrics_addr = app.metrics_addr().expect("the tests serve metrics");
        let service = RunningService::serving(
            candor_forum::BINARY_NAME,
            app.grpc_addr().unwrap(),
            |shutdown| app.run_until(shutdown),
        )
        .await
        .unwrap();
        let client = ForumServiceClient::new(service.channel().await.unwrap());
        Self {
            environment,
            accounts,
            service,
            client,
            metrics_addr,
        }
    }

    /// A fresh client handle (clients are cheap clones of one channel).
    pub fn client(&self) -> ForumServiceClient<Channel> {
        self.client.clone()
    }

    pub async fn publish<E: Event>(&self, event: &E) {
        self.environment
            .broker
            .publish_raw(
                E::ROUTING_KEY,
                Some("application/x-protobuf"),
                &event.encode_to_vec(),
            )
            .await
            .unwrap();
    }

    pub async fn publish_breach(&self, breach: &BreachReported) {
        self.publish(breach).await;
    }

    /// Polls GetIncidentThread until the thread exists.
    pub async fn wait_for_incident_thread(&self, incident_id: &str) -> Thread {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self
                .client()
                .get_incident_thread(GetIncidentThreadRequest {
                    incident_id: incident_id.to_owned(),
                })
                .await;
            match answer {
                Ok(response) => return response.into_inner().thread.unwrap(),
                Err(status)
                    if status.code() == tonic::Code::NotFound && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(status) => panic!("no incident thread for {incident_id}: {status:?}"),
            }
        }
    }

    pub async fn create_thread(
        &self,
        token: &str,
        board_id: &str,
        title: &str,
        body: &str,
    ) -> Result<CreateThreadResponse, tonic::Status> {
        self.client()
            .create_thread(as_caller(
                token,
                CreateThreadRequest {
                    board_id: board_id.to_owned(),
                    title: title.to_owned(),
                    body: body.to_owned(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn reply(
        &self,
        token: &str,
        thread_id: &str,
        body: &str,
        in_reply_to: &str,
    ) -> Result<Post, tonic::Status> {
        self.client()
            .create_post(as_caller(
                token,
                CreatePostRequest {
                    thread_id: thread_id.to_owned(),
                    body: body.to_owned(),
                    in_reply_to_post_id: in_reply_to.to_owned(),
                    request_id: String::new(),
                },
            ))
            .await
            .map(|response| response.into_inner().post.unwrap())
    }

    /// Every post of a thread, following the page tokens.
    pub async fn all_posts(&self, thread_id: &str) -> Vec<Post> {
        let mut posts = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client()
                .list_posts(ListPostsRequest {
                    thread_id: thread_id.to_owned(),
                    page_size: 0,
                    page_token,
                })
                .await
                .unwrap()
                .into_inner();
            posts.extend(page.posts);
            if page.next_page_token.is_empty() {
                return posts;
            }
            page_token = page.next_page_token;
        }
    }

    /// A talk thread started by `member`, returning (thread id, first post id).
    pub async fn talk_thread(&self, member: &Member, title: &str) -> (String, String) {
        let created = self
            .create_thread(
                &member.token,
                "talk",
                title,
                &format!("first post of {title}"),
            )
            .await
            .unwrap();
        let thread = created.thread.unwrap();
        (thread.thread_id, thread.first_post_id)
    }
}

/// `message` with `authorization: Bearer <token>`.
pub fn as_caller<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub fn operator<T>(message: T) -> tonic::Request<T> {
    as_caller(OPERATOR_TOKEN, message)
}

pub fn config(environment: &TestEnvironment, account_url: &str, options: Options) -> Config {
    Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: candor_platform::config::MetricsAddr::loopback_any_port(),
        account_grpc_url: account_url.to_owned(),
        public_base_url: PUBLIC_BASE_URL.to_owned(),
        post_interval_seconds: options.post_interval_seconds,
        session_cache_seconds: 1,
        session_cache_capacity: 1000,
        page_cache_millis: 1000,
        common: environment.common_config(candor_platform::auth::Caller::Forum),
    }
}
