//! Consumer and publisher metrics: messages consumed per routing key and
//! outcome, handler latency and retries, whether each consumer is connected,
//! and publisher confirms.
//!
//! `queue` is the service queue's short name (`notification`), never the
//! namespaced broker name, and `routing_key` is one of the contract's keys or
//! `other`, so neither label grows with deployments, tests or bad input.

use std::time::Duration;

use candor_proto::events::v1::ROUTING_KEYS;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::{LATENCY_BUCKETS, Metrics};

/// What happened to a consumed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// Handled and acknowledged.
    Acked,
    /// Given up on and sent to the dead-letter queue.
    DeadLettered(DeadLetterReason),
    /// Handed back to the broker unhandled (the consumer stopped while the
    /// message waited for a retry).
    Requeued,
}

/// Why a message was dead-lettered, as a bounded class (the full reason is
/// in the dead letter's `x-candor-error` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The routing policy refused it before decoding (wrong publisher,
    /// unknown key, too large).
    Refused,
    /// The handler found it invalid.
    Invalid,
    /// The handler failed (or panicked) on every attempt.
    RetriesExhausted,
}

impl ConsumeOutcome {
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Acked => ("acked", "none"),
            Self::Requeued => ("requeued", "none"),
            Self::DeadLettered(DeadLetterReason::Refused) => ("dead_lettered", "refused"),
            Self::DeadLettered(DeadLetterReason::Invalid) => ("dead_lettered", "invalid"),
            Self::DeadLettered(DeadLetterReason::RetriesExhausted) => {
                ("dead_lettered", "retries_exhausted")
            }
        }
    }
}

/// The outcome of one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The broker confirmed it.
    Confirmed,
    /// The broker refused it or returned it unroutable.
    Nacked,
    /// No confirm arrived (connection or channel lost) or it could not be sent.
    Failed,
}

impl PublishOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Nacked => "nacked",
            Self::Failed => "failed",
        }
    }
}

/// The platform's messaging families.
#[derive(Clone)]
pub(crate) struct MessagingMetrics {
    consumed: IntCounterVec,
    handler_seconds: HistogramVec,
    handler_retries: IntCounterVec,
    consumer_connected: IntGaugeVec,
    published: IntCounterVec,
}

impl MessagingMetrics {
    pub(crate) fn register(registry: &Registry) -> anyhow::Result<Self> {
        let consumed = IntCounterVec::new(
            Opts::new(
                "candor_messages_consumed_total",
                "Messages consumed, by queue, routing key, outcome and dead-letter reason class.",
            ),
            &["queue", "routing_key", "outcome", "reason"],
        )?;
        let handler_seconds = HistogramVec::new(
            HistogramOpts::new(
                "candor_message_handler_seconds",
                "Seconds from delivery to ack or dead letter, retries included.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["queue", "routing_key"],
        )?;
        let handler_retries = IntCounterVec::new(
            Opts::new(
                "candor_message_handler_retries_total",
                "Handler attempts that failed transiently and were retried.",
            ),
            &["queue", "routing_key"],
        )?;
        let consumer_connected = IntGaugeVec::new(
            Opts::new(
                "candor_consumer_connected",
                "1 while the consumer of the queue holds a channel and consumes, else 0.",
            ),
            &["queue"],
        )?;
        let published = IntCounterVec::new(
            Opts::new(
                "candor_messages_published_total",
                "Messages published, by exchange, routing key and confirm outcome.",
            ),
            &["exchange", "routing_key", "outcome"],
        )?;
        registry.register(Box::new(consumed.clone()))?;
        registry.register(Box::new(handler_seconds.clone()))?;
        registry.register(Box::new(handler_retries.clone()))?;
        registry.register(Box::new(consumer_connected.clone()))?;
        registry.register(Box::new(published.clone()))?;
        Ok(Self {
            consumed,
            handler_seconds,
            handler_retries,
            consumer_connected,
            published,
        })
    }
}

/// The contract's routing key `key` is, or `other`.
pub fn routing_key_label(key: &str) -> &'static str {
    ROUTING_KEYS
        .iter()
        .find(|known| **known == key)
        .copied()
        .unwrap_or("other")
}

/// What one consumer records; a no-op when metrics are disabled.
#[derive(Clone)]
pub struct ConsumerMetrics {
    families: Option<MessagingMetrics>,
    queue: String,
}

impl ConsumerMetrics {
    /// The metrics of the consumer of `queue` (the short name).
    pub fn new(metrics: &Metrics, queue: &str) -> Self {
        Self {
            families: metrics.messaging().cloned(),
            queue: queue.to_owned(),
        }
    }

    /// Records one consumed message.
    pub fn consumed(&self, routing_key: &str, outcome: ConsumeOutcome, took: Duration) {
        let Some(families) = &self.families else {
            return;
        };
        let key = routing_key_label(routing_key);
        let (outcome, reason) = outcome.labels();
        families
            .consumed
            .with_label_values(&[self.queue.as_str(), key, outcome, reason])
            .inc();
        families
            .handler_seconds
            .with_label_values(&[self.queue.as_str(), key])
            .observe(took.as_secs_f64());
    }

    /// Records a failed attempt that will be retried.
    pub fn retried(&self, routing_key: &str) {
        if let Some(families) = &self.families {
            families
                .handler_retries
                .with_label_values(&[self.queue.as_str(), routing_key_label(routing_key)])
                .inc();
        }
    }

    /// Says whether the consumer is consuming.
    pub fn connected(&self, connected: bool) {
        if let Some(families) = &self.families {
            families
                .consumer_connected
                .with_label_values(&[self.queue.as_str()])
                .set(i64::from(connected));
        }
    }
}

/// What one publisher records; a no-op when metrics are disabled.
#[derive(Clone, Default)]
pub struct PublisherMetrics {
    families: Option<MessagingMetrics>,
    exchange: &'static str,
}

impl std::fmt::Debug for PublisherMetrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PublisherMetrics")
            .field("exchange", &self.exchange)
            .field("enabled", &self.families.is_some())
            .finish()
    }
}

impl PublisherMetrics {
    /// Publishes to the events exchange.
    pub fn events(metrics: &Metrics) -> Self {
        Self {
            families: metrics.messaging().cloned(),
            exchange: "events",
        }
    }

    /// Publishes to the dead-letter exchange (routing keys are queue names
    /// there, so they are all counted as `dead_letter`).
    pub fn dead_letters(metrics: &Metrics) -> Self {
        Self {
            families: metrics.messaging().cloned(),
            exchange: "dead_letters",
        }
    }

    /// Records the outcome of publishing one message with `routing_key`.
    pub fn published(&self, routing_key: &str, outcome: PublishOutcome) {
        let Some(families) = &self.families else {
            return;
        };
        let key = if self.exchange == "dead_letters" {
            "dead_letter"
        } else {
            routing_key_label(routing_key)
        };
        families
            .published
            .with_label_values(&[self.exchange, key, outcome.label()])
            .inc();
    }
}
