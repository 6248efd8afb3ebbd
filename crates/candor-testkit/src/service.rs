//! Services started in-process on a random port, stopped on demand.
//!
//! Each service crate builds its app from a config (binding `127.0.0.1:0`)
//! and runs it until a shutdown future resolves; [`RunningService::spawn`]
//! runs that on the test's runtime and keeps the handle to stop it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The shutdown future handed to a service run by the testkit.
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service running on the test's runtime.
pub struct RunningService {
    name: String,
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningService {
    /// Runs `run(shutdown)` in the background; `addr` is where the service
    /// listens (its listener is already bound).
    pub fn spawn<F, Fut>(name: &str, addr: SocketAddr, run: F) -> Self
    where
        F: FnOnce(ShutdownSignal) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let signal: ShutdownSignal = Box::pin(shutdown.clone().cancelled_owned());
        let task = tokio::spawn(run(signal));
        Self {
            name: name.to_owned(),
            addr,
            shutdown,
            task,
        }
    }

    /// [`RunningService::spawn`], then waits (up to 30 s) until health
    /// says SERVING.
    pub async fn serving<F, Fut>(name: &str, addr: SocketAddr, run: F) -> anyhow::Result<Self>
    where
        F: FnOnce(ShutdownSignal) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let service = Self::spawn(name, addr, run);
        service.wait_until_serving(Duration::from_secs(30)).await?;
        Ok(service)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, as the `*_GRPC_URL` settings take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A fresh channel to the service.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Channel::from_shared(self.url())?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("cannot connect to {} at {}", self.name, self.addr))
    }

    /// The health status of `service` (`""` for the whole server).
    pub async fn health(&self, service: &str) -> anyhow::Result<ServingStatus> {
        let mut client = HealthClient::new(self.channel().await?);
        let response = client
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await?
            .into_inner();
        Ok(response.status())
    }

    /// Waits until health says SERVING.
    pub async fn wait_until_serving(&self, timeout: Duration) -> anyhow::Result<()> {
        let channel = Channel::from_shared(self.url())?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        crate::conformance::wait_until_serving(channel, timeout)
            .await
            .with_context(|| format!("{} never became healthy", self.name))
    }

    /// Triggers shutdown without waiting (to observe draining).
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Whether the service's task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Shuts the service down and returns how its run ended.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match tokio::time::timeout(Duration::from_secs(60), self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(anyhow::anyhow!("{} panicked: {join_error}", self.name)),
            Err(_) => bail!("{} did not stop within 60 s", self.name),
        }
    }
}
