//! Messages as the rest of Candor sees them: what a publisher sends, what a
//! handler receives, and how a handler says why it failed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};

pub use candor_proto::events::v1::{CONTENT_TYPE_JSON, CONTENT_TYPE_PROTOBUF};

/// Why a message was dead-lettered (set by the consumer that gave up on it).
pub const HEADER_ERROR: &str = "x-candor-error";
/// The routing key the message was originally published with (the
/// dead-letter queue receives it under the queue's name instead).
pub const HEADER_ORIGINAL_ROUTING_KEY: &str = "x-candor-original-routing-key";
/// How many times the handler ran before the message was dead-lettered.
pub const HEADER_ATTEMPTS: &str = "x-candor-attempts";
/// The `user_id` the message was originally published with (a dead letter
/// is republished under the consumer's own user, as RabbitMQ requires).
pub const HEADER_ORIGINAL_USER_ID: &str = "x-candor-original-user-id";

/// When the consumer dead-lettered the message (RFC 3339, UTC).
pub const HEADER_DEAD_LETTERED_AT: &str = "x-candor-dead-lettered-at";
/// How many times an operator replayed the message from a dead-letter
/// queue (`candorctl dead-letters replay`); absent on a first publish.
pub const HEADER_REPLAYS: &str = "x-candor-replays";

/// A message to publish on the events exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub routing_key: String,
    pub payload: Vec<u8>,
    /// `application/x-protobuf` unless set otherwise.
    pub content_type: String,
    /// Unique per event; consumers and the outbox use it to recognise a
    /// redelivery. A UUIDv7 unless set otherwise.
    pub message_id: String,
    /// The protobuf full name (`candor.events.v1.BreachReported`), sent as
    /// the AMQP `type` property.
    pub message_type: Option<String>,
    /// Extra headers. A `traceparent` here wins over the current span's, so
    /// the outbox relay can forward the context captured at enqueue time.
    pub headers: BTreeMap<String, String>,
    /// When the event happened; now unless set otherwise.
    pub timestamp: Option<DateTime<Utc>>,
}

impl OutgoingMessage {
    /// A protobuf-encoded payload with a fresh message id.
    pub fn new(routing_key: impl Into<String>, payload: Vec<u8>) -> Self {
        Self {
            routing_key: routing_key.into(),
            payload,
            content_type: CONTENT_TYPE_PROTOBUF.to_owned(),
            message_id: uuid::Uuid::now_v7().to_string(),
            message_type: None,
            headers: BTreeMap::new(),
            timestamp: None,
        }
    }

    /// Encodes `message` and records its full protobuf name as the `type`.
    pub fn from_protobuf<M: prost::Message + prost::Name>(
        routing_key: impl Into<String>,
        message: &M,
    ) -> Self {
        Self::new(routing_key, message.encode_to_vec()).with_message_type(M::full_name())
    }

    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    pub fn with_message_id(mut self, message_id: impl Into<String>) -> Self {
        self.message_id = message_id.into();
        self
    }

    pub fn with_message_type(mut self, message_type: impl Into<String>) -> Self {
        self.message_type = Some(message_type.into());
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    pub fn with_timestamp(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// A message delivered to a [`super::MessageHandler`].
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    pub routing_key: String,
    pub exchange: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    /// The AMQP `type` property (protobuf full name) when the publisher set it.
    pub message_type: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    /// The publisher's broker user (the AMQP `user_id` property, which
    /// RabbitMQ validated); the consumer has already checked that it owns
    /// the routing key.
    pub user_id: Option<String>,
    pub headers: FieldTable,
    /// The broker delivered this message before (to this or another
    /// consumer) without an ack; the handler's idempotency makes it harmless.
    pub redelivered: bool,
    pub(crate) properties: BasicProperties,
}

impl IncomingMessage {
    /// A message as a handler would receive it, for a service's unit tests.
    pub fn new(routing_key: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            routing_key: routing_key.into(),
            exchange: String::new(),
            body,
            content_type: Some(CONTENT_TYPE_PROTOBUF.to_owned()),
            message_id: Some(uuid::Uuid::now_v7().to_string()),
            message_type: None,
            timestamp: None,
            user_id: None,
            headers: FieldTable::default(),
            redelivered: false,
            properties: BasicProperties::default(),
        }
    }

    pub fn with_content_type(mut self, content_type: Option<&str>) -> Self {
        self.content_type = content_type.map(str::to_owned);
        self
    }

    pub(crate) fn from_delivery(delivery: &lapin::message::Delivery) -> Self {
        let properties = delivery.properties.clone();
        Self {
            routing_key: delivery.routing_key.to_string(),
            exchange: delivery.exchange.to_string(),
            body: delivery.data.clone(),
            content_type: properties.content_type().as_ref().map(ToString::to_string),
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            message_type: properties.kind().as_ref().map(ToString::to_string),
            timestamp: properties
                .timestamp()
                .and_then(|seconds| i64::try_from(seconds).ok())
                .and_then(|seconds| DateTime::from_timestamp(seconds, 0)),
            user_id: properties.user_id().as_ref().map(ToString::to_string),
            headers: properties.headers().clone().unwrap_or_default(),
            redelivered: delivery.redelivered,
            properties,
        }
    }

    /// A header as text (string, integer or boolean headers), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        header_string(&self.headers, name)
    }

    /// Decodes a binary protobuf body. A missing content type is accepted (an
    /// operator's tool may not set it); any other content type, or bytes that
    /// do not decode, is [`HandlerError::Invalid`], so the message is
    /// dead-lettered with that reason.
    pub fn decode_protobuf<M: prost::Message + Default>(&self) -> Result<M, HandlerError> {
        match self.content_type.as_deref() {
            None | Some(CONTENT_TYPE_PROTOBUF) => {}
            Some(other) => {
                return Err(HandlerError::Invalid(format!(
                    "unsupported content type {other:?} (expected {CONTENT_TYPE_PROTOBUF})"
                )));
            }
        }
        M::decode(self.body.as_slice()).map_err(|error| {
            let expected = self
                .message_type
                .as_deref()
                .unwrap_or("the expected message");
            HandlerError::Invalid(format!("invalid protobuf for {expected}: {error}"))
        })
    }
}

impl IncomingMessage {
    /// Decodes a Candor event by its content type: binary protobuf (also
    /// when the content type is missing) or the proto3 JSON mapping
    /// (`application/json`, what an operator types into the management UI).
    /// Anything else is [`HandlerError::Invalid`] with the reason.
    pub fn decode_event<E: candor_proto::events::v1::Event>(&self) -> Result<E, HandlerError> {
        candor_proto::events::v1::decode_payload::<E>(self.content_type.as_deref(), &self.body)
            .map_err(|error| HandlerError::Invalid(format!("{}: {error}", E::full_name())))
    }
}

/// Why a handler did not process a message; decides what the consumer does
/// next.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never succeed (does not parse, fails validation):
    /// dead-letter it at once with this reason.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Something outside the message failed (database down, a dependency
    /// not there yet): retry with backoff, dead-letter after the last attempt.
    #[error("transient failure: {0:#}")]
    Transient(#[source] anyhow::Error),
}

impl HandlerError {
    pub fn invalid(reason: impl std::fmt::Display) -> Self {
        Self::Invalid(reason.to_string())
    }

    pub fn transient(error: impl Into<anyhow::Error>) -> Self {
        Self::Transient(error.into())
    }
}

/// A database error is transient: the handler's transaction rolled back and
/// the next attempt may succeed.
impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::Transient(error.into())
    }
}

/// A header value from an AMQP table as text, for the header types Candor
/// and RabbitMQ put there (strings, integers, booleans).
pub fn header_string(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.to_string()),
        AMQPValue::Boolean(value) => Some(value.to_string()),
        AMQPValue::ShortShortInt(value) => Some(value.to_string()),
        AMQPValue::ShortShortUInt(value) => Some(value.to_string()),
        AMQPValue::ShortInt(value) => Some(value.to_string()),
        AMQPValue::ShortUInt(value) => Some(value.to_string()),
        AMQPValue::LongInt(value) => Some(value.to_string()),
        AMQPValue::LongUInt(value) => Some(value.to_string()),
        AMQPValue::LongLongInt(value) => Some(value.to_string()),
        AMQPValue::Timestamp(value) => Some(value.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_string_reads_text_and_numbers() {
        let mut headers = FieldTable::default();
        headers.insert("text".into(), AMQPValue::LongString("hello".into()));
        headers.insert("number".into(), AMQPValue::LongLongInt(3));
        assert_eq!(header_string(&headers, "text").as_deref(), Some("hello"));
        assert_eq!(header_string(&headers, "number").as_deref(), Some("3"));
        assert_eq!(header_string(&headers, "missing"), None);
    }
}
