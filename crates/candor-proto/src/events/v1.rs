use prost::{Message, Name};

use crate::JsonError;

// The generated messages live in a child module so that the lint allowances
// for generated code do not cover the hand-written helpers below. The
// package has no references to other `candor.*` packages, so the extra
// module level does not break generated paths.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/candor.events.v1.rs"));
}

pub use generated::*;

mod validate;

pub use validate::{ACCOUNT_DATA_CLASSES, FieldViolation, MAX_BATCH_ACCOUNTS, ValidationError};

/// The durable topic exchange every event is published to.
pub const EXCHANGE: &str = "candor.events";

/// Routing key of [`BreachReported`].
pub const BREACH_REPORTED: &str = "breach.reported";
/// Routing key of [`AccountsAffected`].
pub const BREACH_ACCOUNTS_AFFECTED: &str = "breach.accounts_affected";
/// Routing key of [`EnumerationCompleted`].
pub const BREACH_ENUMERATION_COMPLETED: &str = "breach.enumeration_completed";
/// Routing key of [`IncidentThreadOpened`].
pub const FORUM_INCIDENT_THREAD_OPENED: &str = "forum.incident_thread_opened";
/// Routing key of [`AccountDeactivated`].
pub const ACCOUNT_DEACTIVATED: &str = "account.deactivated";
/// Routing key of [`NoticeUndelivered`].
pub const NOTIFICATION_NOTICE_UNDELIVERED: &str = "notification.notice_undelivered";

/// Every routing key of the contract.
pub const ROUTING_KEYS: [&str; 6] = [
    BREACH_REPORTED,
    BREACH_ACCOUNTS_AFFECTED,
    BREACH_ENUMERATION_COMPLETED,
    FORUM_INCIDENT_THREAD_OPENED,
    ACCOUNT_DEACTIVATED,
    NOTIFICATION_NOTICE_UNDELIVERED,
];

/// AMQP `content_type` of a binary protobuf payload (what Candor publishes).
pub const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";
/// AMQP `content_type` of a proto3 JSON payload (what an operator may publish
/// from the RabbitMQ management UI).
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// An event payload and the routing key it travels under.
pub trait Event: Message + Name + Default {
    /// The routing key on the [`EXCHANGE`], one per message type.
    const ROUTING_KEY: &'static str;
}

impl Event for BreachReported {
    const ROUTING_KEY: &'static str = BREACH_REPORTED;
}
impl Event for AccountsAffected {
    const ROUTING_KEY: &'static str = BREACH_ACCOUNTS_AFFECTED;
}
impl Event for EnumerationCompleted {
    const ROUTING_KEY: &'static str = BREACH_ENUMERATION_COMPLETED;
}
impl Event for IncidentThreadOpened {
    const ROUTING_KEY: &'static str = FORUM_INCIDENT_THREAD_OPENED;
}
impl Event for AccountDeactivated {
    const ROUTING_KEY: &'static str = ACCOUNT_DEACTIVATED;
}
impl Event for NoticeUndelivered {
    const ROUTING_KEY: &'static str = NOTIFICATION_NOTICE_UNDELIVERED;
}

/// The full protobuf message name carried under `routing_key` (the AMQP
/// `type` property), e.g. `candor.events.v1.BreachReported` for
/// `breach.reported`; `None` for a key outside the contract.
pub fn message_name_for_routing_key(routing_key: &str) -> Option<String> {
    match routing_key {
        BREACH_REPORTED => Some(BreachReported::full_name()),
        BREACH_ACCOUNTS_AFFECTED => Some(AccountsAffected::full_name()),
        BREACH_ENUMERATION_COMPLETED => Some(EnumerationCompleted::full_name()),
        FORUM_INCIDENT_THREAD_OPENED => Some(IncidentThreadOpened::full_name()),
        ACCOUNT_DEACTIVATED => Some(AccountDeactivated::full_name()),
        NOTIFICATION_NOTICE_UNDELIVERED => Some(NoticeUndelivered::full_name()),
        _ => None,
    }
}

/// Why an event payload could not be decoded. Either way the message is
/// malformed: consumers dead-letter it with this text as the reason.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The AMQP `content_type` is neither protobuf nor JSON.
    #[error(
        "unsupported content type {content_type:?} (expected {CONTENT_TYPE_PROTOBUF} or {CONTENT_TYPE_JSON})"
    )]
    UnsupportedContentType {
        /// The content type received.
        content_type: String,
    },
    /// The body is not a valid binary protobuf encoding of the message.
    #[error("invalid protobuf for {message_type}: {source}")]
    Protobuf {
        /// Full name of the expected message.
        message_type: String,
        /// The decoding error.
        #[source]
        source: prost::DecodeError,
    },
    /// The body is not valid proto3 JSON for the message.
    #[error(transparent)]
    Json(#[from] JsonError),
}

/// Decodes an event body according to its AMQP `content_type`: binary
/// protobuf for `application/x-protobuf`, `application/protobuf` or no
/// content type; proto3 JSON for `application/json`. Parameters such as
/// `; charset=utf-8` are ignored.
pub fn decode_payload<E: Event>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<E, PayloadError> {
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "" | CONTENT_TYPE_PROTOBUF | "application/protobuf" | "application/vnd.google.protobuf" => {
            E::decode(body).map_err(|source| PayloadError::Protobuf {
                message_type: E::full_name(),
                source,
            })
        }
        CONTENT_TYPE_JSON => Ok(crate::decode_json(body)?),
        _ => Err(PayloadError::UnsupportedContentType {
            content_type: content_type.unwrap_or_default().to_owned(),
        }),
    }
}
