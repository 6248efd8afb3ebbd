//! Publishing with publisher confirms on one long-lived channel.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};
use tokio::sync::Mutex;

use super::connection::Broker;
use super::message::OutgoingMessage;
use super::topology::{Topology, short};
use super::trace_context::{self, TRACEPARENT};
use crate::metrics::messaging::{PublishOutcome, PublisherMetrics};

/// Confirms awaited together at most; measured here: ~20,000 msg/s with
/// about 1,000 in flight, under 2,000 msg/s when each publish waits alone.
const MAX_IN_FLIGHT: usize = 1_000;
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;
/// How long a window of publishes may wait for its confirms. A quorum queue
/// whose leader moved confirms within seconds; past this the channel is
/// taken as broken, the publishes count as unconfirmed (the outbox sends
/// them again) and the next publish opens a new channel.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a message was not accepted by the broker.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No connection or the channel closed before the confirm arrived. The
    /// message may or may not have been stored: retry (consumers are
    /// idempotent).
    #[error("broker unavailable: {0:#}")]
    Unavailable(#[source] anyhow::Error),
    /// The broker refused to take responsibility for the message.
    #[error("broker refused message {message_id} (nack)")]
    Nacked { message_id: String },
    /// No queue is bound to the routing key (mandatory publish returned).
    #[error(
        "message {message_id} is unroutable: {reply_code} {reply_text} for routing key {routing_key:?}"
    )]
    Returned {
        message_id: String,
        routing_key: String,
        reply_code: u16,
        reply_text: String,
    },
    /// The message cannot be sent at all (e.g. a name over 255 bytes).
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// Publishes to one exchange (the events exchange unless
/// [`Publisher::for_exchange`]) on a confirm-mode channel that is opened on
/// first use and reused; cheap to clone. Every message carries the
/// connection's user as its `user_id` property ([`Broker::user`]).
///
/// Recovery: when the connection drops (or the confirms stop coming), the
/// publish in progress fails with [`PublishError::Unavailable`] and the next
/// publish reopens the channel (reconnecting through the [`Broker`], to the
/// next node of a cluster, subject to its backoff). Publish
/// does not retry by itself, because only the caller knows whether a retry
/// is safe and how long it may wait; the outbox relay retries with backoff.
#[derive(Clone, Debug)]
pub struct Publisher {
    broker: Broker,
    exchange: String,
    channel: Arc<Mutex<Option<Channel>>>,
    metrics: PublisherMetrics,
}

impl Publisher {
    /// A publisher to `<namespace>.events`.
    pub fn new(broker: Broker) -> Self {
        let exchange = Topology::new(&broker.config().amqp_namespace).events_exchange();
        Self::for_exchange(broker, exchange)
    }

    pub fn for_exchange(broker: Broker, exchange: impl Into<String>) -> Self {
        Self {
            broker,
            exchange: exchange.into(),
            channel: Arc::new(Mutex::new(None)),
            metrics: PublisherMetrics::default(),
        }
    }

    /// Records every publish's confirm outcome into `metrics`.
    pub fn with_metrics(mut self, metrics: PublisherMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Publishes one message (mandatory, persistent) and waits for its confirm.
    #[tracing::instrument(name = "amqp publish", skip_all, fields(exchange = %self.exchange, routing_key = %message.routing_key, message_id = %message.message_id))]
    pub async fn publish(&self, message: OutgoingMessage) -> Result<(), PublishError> {
        let properties = properties(&message)?;
        self.publish_raw(&message.routing_key, &message.payload, properties)
            .await
    }

    /// Publishes all messages, pipelining up to 1,000 confirms in flight; fails
    /// with the first error once every confirm is in. Messages before and
    /// after a failed one may have been accepted.
    #[tracing::instrument(name = "amqp publish batch", skip_all, fields(exchange = %self.exchange, count = messages.len()))]
    pub async fn publish_batch(&self, messages: Vec<OutgoingMessage>) -> Result<(), PublishError> {
        self.publish_each(messages)
            .await
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Like [`Publisher::publish_batch`] but with one outcome per message, in
    /// order, so a caller (the outbox) can record exactly which were accepted.
    pub async fn publish_each(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<(), PublishError>> {
        let mut outcomes = Vec::with_capacity(messages.len());
        for window in messages.chunks(MAX_IN_FLIGHT) {
            let prepared: Vec<_> = window
                .iter()
                .map(|message| properties(message).map(|properties| (message, properties)))
                .collect();
            let window_outcomes = self.publish_window(prepared).await;
            for (message, outcome) in window.iter().zip(&window_outcomes) {
                self.metrics
                    .published(&message.routing_key, outcome_of(outcome));
            }
            outcomes.extend(window_outcomes);
        }
        outcomes
    }

    /// Publishes with ready-made properties (the consumer forwards a dead
    /// letter's original properties this way); `user_id` is replaced by this
    /// connection's user, as on every publish.
    pub(crate) async fn publish_raw(
        &self,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let outcome = self
            .publish_raw_unrecorded(routing_key, payload, properties)
            .await;
        self.metrics.published(routing_key, outcome_of(&outcome));
        outcome
    }

    async fn publish_raw_unrecorded(
        &self,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let channel = self.confirm_channel().await?;
        let message_id = message_id_of(&properties);
        let confirm = self.send(&channel, routing_key, payload, properties).await;
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let outcome = match confirm {
            Ok(confirm) => await_confirm(confirm, deadline, &message_id, routing_key).await,
            Err(error) => Err(error),
        };
        if matches!(outcome, Err(PublishError::Unavailable(_))) {
            self.discard(&channel).await;
        }
        outcome
    }

    async fn publish_window(
        &self,
        prepared: Vec<Result<(&OutgoingMessage, BasicProperties), PublishError>>,
    ) -> Vec<Result<(), PublishError>> {
        let channel = match self.confirm_channel().await {
            Ok(channel) => channel,
            Err(error) => {
                let reason = error.to_string();
                return prepared
                    .into_iter()
                    .map(|_| Err(PublishError::Unavailable(anyhow!("{reason}"))))
                    .collect();
            }
        };
        // Send everything first, then collect the confirms.
        let mut pending = Vec::with_capacity(prepared.len());
        for item in prepared {
            let sent = match item {
                Ok((message, properties)) => self
                    .send(&channel, &message.routing_key, &message.payload, properties)
                    .await
                    .map(|confirm| (confirm, message)),
                Err(error) => Err(error),
            };
            pending.push(sent);
        }
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let mut outcomes = Vec::with_capacity(pending.len());
        for sent in pending {
            outcomes.push(match sent {
                Ok((confirm, message)) => {
                    await_confirm(confirm, deadline, &message.message_id, &message.routing_key)
                        .await
                }
                Err(error) => Err(error),
            });
        }
        if outcomes
            .iter()
            .any(|outcome| matches!(outcome, Err(PublishError::Unavailable(_))))
        {
            self.discard(&channel).await;
        }
        outcomes
    }

    async fn send(
        &self,
        channel: &Channel,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<PublisherConfirm, PublishError> {
        let exchange = short(&self.exchange).map_err(invalid)?;
        let routing_key = short(routing_key).map_err(invalid)?;
        // The broker refuses a user_id other than the connection's own, and
        // consumers accept a routing key only from its owner's user_id.
        let properties = properties.with_user_id(short(self.broker.user()).map_err(invalid)?);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        channel
            .basic_publish(exchange, routing_key, options, payload, properties)
            .await
            .map_err(|error| PublishError::Unavailable(anyhow!(error).context("basic.publish")))
    }

    /// The open confirm-mode channel, opened if there is none or it died.
    async fn confirm_channel(&self) -> Result<Channel, PublishError> {
        let mut slot = self.channel.lock().await;
        if let Some(channel) = slot.as_ref()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        *slot = None;
        let channel = self
            .broker
            .channel()
            .await
            .map_err(PublishError::Unavailable)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|error| PublishError::Unavailable(anyhow!(error).context("confirm.select")))?;
        *slot = Some(channel.clone());
        Ok(channel)
    }

    /// Forgets `channel` so the next publish opens a fresh one, and closes
    /// it if it is still open (its confirms stopped coming).
    async fn discard(&self, channel: &Channel) {
        let mut slot = self.channel.lock().await;
        if slot
            .as_ref()
            .is_some_and(|current| current.id() == channel.id())
        {
            *slot = None;
        }
        if channel.status().connected() {
            let channel = channel.clone();
            // In the background: a broker that stopped confirming may not
            // answer the close either.
            tokio::spawn(async move {
                let _ = channel.close(200, "confirms timed out".into()).await;
            });
        }
    }
}

async fn await_confirm(
    confirm: PublisherConfirm,
    deadline: tokio::time::Instant,
    message_id: &str,
    routing_key: &str,
) -> Result<(), PublishError> {
    let Ok(confirmed) = tokio::time::timeout_at(deadline, confirm).await else {
        return Err(PublishError::Unavailable(anyhow!(
            "no publisher confirm within {} s",
            CONFIRM_TIMEOUT.as_secs()
        )));
    };
    match confirmed {
        Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => Ok(()),
        Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned))) => {
            Err(PublishError::Returned {
                message_id: message_id.to_owned(),
                routing_key: routing_key.to_owned(),
                reply_code: returned.reply_code,
                reply_text: returned.reply_text.to_string(),
            })
        }
        Ok(Confirmation::Nack(None)) => Err(PublishError::Nacked {
            message_id: message_id.to_owned(),
        }),
        Err(error) => Err(PublishError::Unavailable(
            anyhow!(error).context("waiting for the publisher confirm"),
        )),
    }
}

/// The metrics' name for a publish's result.
fn outcome_of(result: &Result<(), PublishError>) -> PublishOutcome {
    match result {
        Ok(()) => PublishOutcome::Confirmed,
        Err(PublishError::Nacked { .. } | PublishError::Returned { .. }) => PublishOutcome::Nacked,
        Err(_) => PublishOutcome::Failed,
    }
}

/// Persistent, typed, timestamped, with the trace context of the current span
/// unless the message already carries one.
fn properties(message: &OutgoingMessage) -> Result<BasicProperties, PublishError> {
    let mut headers = FieldTable::default();
    for (name, value) in &message.headers {
        headers.insert(short(name).map_err(invalid)?, text(value));
    }
    if !message.headers.contains_key(TRACEPARENT) {
        for (name, value) in trace_context::current_headers() {
            headers.insert(short(&name).map_err(invalid)?, text(&value));
        }
    }
    let timestamp = message
        .timestamp
        .unwrap_or_else(chrono::Utc::now)
        .timestamp();
    let mut properties = BasicProperties::default()
        .with_content_type(short(&message.content_type).map_err(invalid)?)
        .with_message_id(short(&message.message_id).map_err(invalid)?)
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(u64::try_from(timestamp).unwrap_or_default())
        .with_headers(headers);
    if let Some(message_type) = &message.message_type {
        properties = properties.with_type(short(message_type).map_err(invalid)?);
    }
    Ok(properties)
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn invalid(error: anyhow::Error) -> PublishError {
    PublishError::Invalid(format!("{error:#}"))
}

fn message_id_of(properties: &BasicProperties) -> String {
    properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}
