//! The consumer loop: the publisher and size check before anything is
//! decoded, bounded concurrency, ack after the handler committed, retries
//! with backoff, dead-lettering with a reason, reconnection.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::backoff::Backoff;
use super::connection::Broker;
use super::dead_letter::dead_letter;
use super::message::{HandlerError, IncomingMessage};
use super::ownership::RoutingPolicy;
use super::publisher::Publisher;
use super::topology::{Topology, short};
use super::trace_context;
use crate::metrics::Metrics;
use crate::metrics::messaging::{
    ConsumeOutcome, ConsumerMetrics, DeadLetterReason, PublisherMetrics,
};

/// Processes one message. Return `Ok` only after the work is committed: the
/// consumer acks right after. Must be idempotent, because a message can be
/// delivered again (after a crash or a lost connection).
pub trait MessageHandler: Send + Sync + 'static {
    fn handle(
        &self,
        message: &IncomingMessage,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// How a consumer runs; the defaults suit services, tests shorten the backoff.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Messages handled at the same time, so one slow message does not hold
    /// up the others. Default 16.
    pub concurrency: usize,
    /// Attempts per delivery for transient failures; `None` takes
    /// `AMQP_HANDLER_ATTEMPTS`.
    pub handler_attempts: Option<u32>,
    /// Unacked messages the broker may push; `None` takes `AMQP_PREFETCH`.
    pub prefetch: Option<u16>,
    /// First delay between attempts; doubles (jittered) up to `max_retry_backoff`.
    pub retry_backoff: Duration,
    pub max_retry_backoff: Duration,
    /// Which routing keys are accepted from whom and up to what size;
    /// `None` takes Candor's routes with the owners from the settings
    /// ([`RoutingPolicy::from_config`]).
    pub routing_policy: Option<RoutingPolicy>,
    /// Where the consumer records what it consumed (nothing by default;
    /// services get their own through `Foundation::consumer`).
    pub metrics: Metrics,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            handler_attempts: None,
            prefetch: None,
            retry_backoff: Duration::from_millis(500),
            max_retry_backoff: Duration::from_secs(30),
            routing_policy: None,
            metrics: Metrics::disabled(),
        }
    }
}

impl ConsumerOptions {
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    pub fn with_handler_attempts(mut self, attempts: u32) -> Self {
        self.handler_attempts = Some(attempts.max(1));
        self
    }

    pub fn with_retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.max_retry_backoff = max;
        self
    }

    pub fn with_routing_policy(mut self, policy: RoutingPolicy) -> Self {
        self.routing_policy = Some(policy);
        self
    }

    /// Records into `metrics` unless metrics were already set.
    pub fn with_metrics_default(mut self, metrics: &Metrics) -> Self {
        if !self.metrics.is_enabled() {
            self.metrics = metrics.clone();
        }
        self
    }
}

/// Consumes `queue` (the full name, e.g. `candor.account`) until `shutdown`
/// is cancelled, then stops taking messages, lets in-flight handlers finish,
/// closes the channel (prefetched, unhandled messages return to the queue)
/// and returns `Ok`. A lost connection or channel is logged and the consumer
/// resumes by itself once the broker is back. The queue must have been
/// declared ([`super::Topology`]).
///
/// Before a handler sees a message, its routing key, size and `user_id` are
/// checked against the routing policy; a message from anyone but the key's
/// owner, an oversized one, or one with an unknown key is dead-lettered at
/// once with the reason, without being decoded.
pub async fn run_consumer<H: MessageHandler>(
    broker: &Broker,
    queue: &str,
    handler: Arc<H>,
    options: ConsumerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = broker.config();
    let topology = Topology::new(&config.amqp_namespace);
    let shared = Arc::new(Shared {
        handler,
        policy: options
            .routing_policy
            .clone()
            .unwrap_or_else(|| RoutingPolicy::from_config(config)),
        queue: queue.to_owned(),
        metrics: ConsumerMetrics::new(
            &options.metrics,
            queue
                .strip_prefix(&format!("{}.", config.amqp_namespace))
                .unwrap_or(queue),
        ),
        dead_letters: Publisher::for_exchange(broker.clone(), topology.dead_letter_exchange())
            .with_metrics(PublisherMetrics::dead_letters(&options.metrics)),
        attempts: options
            .handler_attempts
            .unwrap_or(config.amqp_handler_attempts)
            .max(1),
        retry_backoff: options.retry_backoff,
        max_retry_backoff: options.max_retry_backoff,
    });
    let prefetch = options.prefetch.unwrap_or(config.amqp_prefetch);
    let mut resume_backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        let Some(channel) = broker.channel_with_retry(&shutdown).await else {
            return Ok(());
        };
        match consume(
            &channel,
            &shared,
            prefetch,
            options.concurrency,
            &shutdown,
            &mut resume_backoff,
        )
        .await
        {
            Ok(SessionEnd::Shutdown) => {
                tracing::info!(queue, "consumer stopped");
                return Ok(());
            }
            Ok(SessionEnd::Lost(reason)) => {
                tracing::warn!(queue, reason = %reason, "consumer lost its channel, resuming");
            }
            Err(error) => {
                tracing::warn!(queue, error = %format!("{error:#}"), "cannot start consuming, retrying");
            }
        }
        let delay = resume_backoff.next_delay();
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

pub(super) struct Shared<H> {
    pub(super) handler: Arc<H>,
    pub(super) policy: RoutingPolicy,
    pub(super) queue: String,
    pub(super) metrics: ConsumerMetrics,
    pub(super) dead_letters: Publisher,
    pub(super) attempts: u32,
    pub(super) retry_backoff: Duration,
    pub(super) max_retry_backoff: Duration,
}

enum SessionEnd {
    Shutdown,
    Lost(String),
}

/// One channel's worth of consuming; ends on shutdown or when the channel dies.
async fn consume<H: MessageHandler>(
    channel: &Channel,
    shared: &Arc<Shared<H>>,
    prefetch: u16,
    concurrency: usize,
    shutdown: &CancellationToken,
    resume_backoff: &mut Backoff,
) -> anyhow::Result<SessionEnd> {
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .context("basic.qos")?;
    let tag = format!(
        "candor-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let mut consumer: Consumer = channel
        .basic_consume(
            short(&shared.queue)?,
            short(&tag)?,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("basic.consume on {}", shared.queue))?;
    resume_backoff.reset();
    shared.metrics.connected(true);
    tracing::info!(queue = %shared.queue, prefetch, concurrency, "consuming");

    // Cancelled when this session ends for any reason: handlers waiting to
    // retry give up and leave their message to be redelivered.
    let session = shutdown.child_token();
    let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let end = loop {
        while let Some(finished) = tasks.try_join_next() {
            log_task_failure(finished);
        }
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break SessionEnd::Shutdown,
            permit = semaphore.clone().acquire_owned() => permit.context("handler semaphore closed")?,
        };
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => break SessionEnd::Shutdown,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                tasks.spawn(handle_delivery(
                    shared.clone(),
                    delivery,
                    permit,
                    session.clone(),
                ));
            }
            Some(Err(error)) => break SessionEnd::Lost(error.to_string()),
            None => break SessionEnd::Lost("the broker ended the consumer".to_owned()),
        }
    };

    if let SessionEnd::Shutdown = end
        && let Err(error) = channel
            .basic_cancel(short(&tag)?, BasicCancelOptions::default())
            .await
    {
        tracing::debug!(error = %error, "basic.cancel");
    }
    shared.metrics.connected(false);
    session.cancel();
    while let Some(finished) = tasks.join_next().await {
        log_task_failure(finished);
    }
    if channel.status().connected()
        && let Err(error) = channel.close(200, "consumer stopped".into()).await
    {
        tracing::debug!(error = %error, "closing the consumer channel");
    }
    Ok(end)
}

fn log_task_failure(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished {
        tracing::error!(error = %error, "message handler task failed");
    }
}

enum Outcome {
    Handled,
    DeadLetter {
        reason: String,
        /// The bounded class of `reason`, for the metrics.
        class: DeadLetterReason,
        attempts: u32,
    },
    /// The session ended while waiting to retry: leave the message to be
    /// redelivered.
    Abandoned,
}

async fn handle_delivery<H: MessageHandler>(
    shared: Arc<Shared<H>>,
    delivery: Delivery,
    permit: OwnedSemaphorePermit,
    session: CancellationToken,
) {
    let message = IncomingMessage::from_delivery(&delivery);
    let span = tracing::info_span!(
        "amqp consume",
        otel.kind = "consumer",
        queue = %shared.queue,
        routing_key = %message.routing_key,
        message_id = message.message_id.as_deref().unwrap_or_default(),
        user_id = message.user_id.as_deref().unwrap_or_default(),
        redelivered = message.redelivered,
    );
    // Without an OpenTelemetry layer there is no parent to set; that is fine.
    let _ = span.set_parent(trace_context::extract(&message.headers));
    async move {
        let received = std::time::Instant::now();
        let checked = shared.policy.check(
            &message.routing_key,
            message.user_id.as_deref(),
            message.body.len(),
        );
        let outcome = match checked {
            // Zero attempts: the handler never saw it.
            Err(reason) => Outcome::DeadLetter {
                reason,
                class: DeadLetterReason::Refused,
                attempts: 0,
            },
            Ok(()) => process(&shared, &message, &session).await,
        };
        let recorded = match &outcome {
            Outcome::Handled => ConsumeOutcome::Acked,
            Outcome::DeadLetter { class, .. } => ConsumeOutcome::DeadLettered(*class),
            Outcome::Abandoned => ConsumeOutcome::Requeued,
        };
        match outcome {
            Outcome::Handled => ack(&delivery).await,
            Outcome::DeadLetter {
                reason, attempts, ..
            } => {
                dead_letter(&shared, &delivery, &message, &reason, attempts).await;
            }
            Outcome::Abandoned => {
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                // Fails when the channel is gone, which requeues it as well.
                let _ = delivery.acker.nack(requeue).await;
            }
        }
        shared
            .metrics
            .consumed(&message.routing_key, recorded, received.elapsed());
    }
    .instrument(span)
    .await;
    drop(permit);
}

async fn process<H: MessageHandler>(
    shared: &Shared<H>,
    message: &IncomingMessage,
    session: &CancellationToken,
) -> Outcome {
    let mut backoff = Backoff::new(shared.retry_backoff, shared.max_retry_backoff);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = AssertUnwindSafe(shared.handler.handle(message))
            .catch_unwind()
            .await;
        let error = match result {
            Ok(Ok(())) => return Outcome::Handled,
            Ok(Err(HandlerError::Invalid(reason))) => {
                return Outcome::DeadLetter {
                    reason: format!("invalid message: {reason}"),
                    class: DeadLetterReason::Invalid,
                    attempts: attempt,
                };
            }
            Ok(Err(HandlerError::Transient(error))) => format!("{error:#}"),
            Err(panic) => format!("handler panicked: {}", panic_text(panic.as_ref())),
        };
        if attempt >= shared.attempts {
            return Outcome::DeadLetter {
                reason: format!("failed after {attempt} attempts: {error}"),
                class: DeadLetterReason::RetriesExhausted,
                attempts: attempt,
            };
        }
        shared.metrics.retried(&message.routing_key);
        let delay = backoff.next_delay();
        tracing::warn!(attempt, error = %error, retry_in_ms = delay.as_millis(), "handler failed, retrying");
        tokio::select! {
            () = session.cancelled() => return Outcome::Abandoned,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

pub(super) async fn ack(delivery: &Delivery) {
    if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
        tracing::warn!(error = %error, "ack failed, the message will be redelivered");
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        return (*text).to_owned();
    }
    if let Some(text) = panic.downcast_ref::<String>() {
        return text.clone();
    }
    "non-text panic payload".to_owned()
}
