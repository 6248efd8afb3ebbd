//! One dead letter as an operator reads it: which service gave up on it,
//! its original routing key, the reason, the incident, and the payload
//! decoded (a Candor event as snake_case JSON through candor-proto). Values
//! under a secret-looking name are replaced, so nothing a forged message
//! carried as a token or password is ever printed.

use std::collections::BTreeMap;

use candor_platform::messaging::{
    HEADER_ATTEMPTS, HEADER_DEAD_LETTERED_AT, HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY,
    HEADER_ORIGINAL_USER_ID, HEADER_REPLAYS, header_string,
};
use candor_proto::events::v1::{
    self as events, AccountDeactivated, AccountsAffected, BreachReported, EnumerationCompleted,
    Event, IncidentThreadOpened, NoticeUndelivered,
};
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};
use serde::Serialize;

/// What replaces a secret-looking value.
const REDACTED: &str = "[redacted]";

/// A dead letter read from a dead-letter queue.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// The service whose dead-letter queue holds it (`account`, …).
    pub service: &'static str,
    /// The dead-letter queue's full name.
    pub queue: String,
    /// The AMQP `message_id` (what `show`, `replay` and `purge` take).
    pub message_id: Option<String>,
    /// The routing key it was published with; `None` when no header says.
    pub routing_key: Option<String>,
    /// Why it was dead-lettered.
    pub reason: Option<String>,
    /// The payload's `incident_id`, when it has one.
    pub incident_id: Option<String>,
    /// When the consumer gave up on it (RFC 3339).
    pub dead_lettered_at: Option<String>,
    /// When it was first published (RFC 3339).
    pub published_at: Option<String>,
    /// The broker user that published it.
    pub published_by: Option<String>,
    /// Times an operator replayed it before.
    pub replays: u32,
    /// How many times the handler ran before giving up.
    pub attempts: Option<String>,
    /// The AMQP `content_type` (protobuf or JSON).
    pub content_type: Option<String>,
    /// The AMQP `type`: the protobuf message name.
    pub message_type: Option<String>,
    /// Every header as text, secret-looking ones redacted.
    pub headers: BTreeMap<String, String>,
    /// The body decoded; never the raw bytes of a body that does not decode.
    pub payload: Payload,
}

/// A dead letter's body as shown.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// A Candor event, as snake_case JSON.
    Event { json: serde_json::Value },
    /// JSON that is not a valid event (secret-looking values redacted).
    Json {
        json: serde_json::Value,
        error: String,
    },
    /// Bytes that decode as nothing known; not shown.
    Undecodable { bytes: usize, error: String },
}

impl DeadLetter {
    pub fn from_delivery(service: &'static str, queue: &str, delivery: &Delivery) -> Self {
        let properties = &delivery.properties;
        let headers = properties.headers().clone().unwrap_or_default();
        let content_type = properties.content_type().as_ref().map(ToString::to_string);
        let routing_key = header_string(&headers, HEADER_ORIGINAL_ROUTING_KEY)
            .or_else(|| first_death(&headers, "routing-keys"));
        let payload = decode(
            routing_key.as_deref(),
            content_type.as_deref(),
            &delivery.data,
        );
        let incident_id = match &payload {
            Payload::Event { json } | Payload::Json { json, .. } => json
                .get("incident_id")
                .and_then(|id| id.as_str())
                .map(str::to_owned),
            Payload::Undecodable { .. } => None,
        };
        Self {
            service,
            queue: queue.to_owned(),
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            reason: header_string(&headers, HEADER_ERROR).or_else(|| {
                first_death(&headers, "reason").map(|reason| format!("broker: {reason}"))
            }),
            incident_id,
            dead_lettered_at: header_string(&headers, HEADER_DEAD_LETTERED_AT)
                .or_else(|| first_death(&headers, "time")),
            published_at: properties
                .timestamp()
                .and_then(|seconds| i64::try_from(seconds).ok())
                .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
                .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            published_by: header_string(&headers, HEADER_ORIGINAL_USER_ID),
            replays: header_string(&headers, HEADER_REPLAYS)
                .and_then(|count| count.parse().ok())
                .unwrap_or(0),
            attempts: header_string(&headers, HEADER_ATTEMPTS),
            content_type,
            message_type: properties.kind().as_ref().map(ToString::to_string),
            headers: text_headers(&headers),
            routing_key,
            payload,
        }
    }
}

/// A field of the broker's own dead-lettering record (`x-death`), for a
/// message the broker dead-lettered itself (a quorum queue's delivery
/// limit): `reason`, `time` or the first of `routing-keys`.
fn first_death(headers: &FieldTable, field: &str) -> Option<String> {
    let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death") else {
        return None;
    };
    let Some(AMQPValue::FieldTable(death)) = deaths.as_slice().first() else {
        return None;
    };
    match death.inner().get(field)? {
        AMQPValue::FieldArray(keys) => keys.as_slice().first().and_then(amqp_text),
        AMQPValue::Timestamp(seconds) => i64::try_from(*seconds)
            .ok()
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
            .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        other => amqp_text(other),
    }
}

fn amqp_text(value: &AMQPValue) -> Option<String> {
    let mut table = FieldTable::default();
    table.insert("value".into(), value.clone());
    header_string(&table, "value")
}

/// Every header as text (tables and arrays as a short note), with
/// secret-looking names redacted.
fn text_headers(headers: &FieldTable) -> BTreeMap<String, String> {
    headers
        .inner()
        .iter()
        .map(|(name, value)| {
            let name = name.to_string();
            let text = if looks_secret(&name) {
                REDACTED.to_owned()
            } else {
                amqp_text(value).unwrap_or_else(|| match value {
                    AMQPValue::FieldArray(items) => format!("[{} entries]", items.as_slice().len()),
                    AMQPValue::FieldTable(table) => format!("{{{} fields}}", table.inner().len()),
                    _ => "(binary)".to_owned(),
                })
            };
            (name, text)
        })
        .collect()
}

/// Decodes the body as the event its routing key carries.
fn decode(routing_key: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Payload {
    fn as_event<E: Event>(
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<serde_json::Value, String> {
        let event =
            events::decode_payload::<E>(content_type, body).map_err(|error| error.to_string())?;
        candor_proto::encode_snake_json(&event).map_err(|error| error.to_string())
    }
    let decoded = match routing_key {
        Some(events::BREACH_REPORTED) => as_event::<BreachReported>(content_type, body),
        Some(events::BREACH_ACCOUNTS_AFFECTED) => as_event::<AccountsAffected>(content_type, body),
        Some(events::BREACH_ENUMERATION_COMPLETED) => {
            as_event::<EnumerationCompleted>(content_type, body)
        }
        Some(events::FORUM_INCIDENT_THREAD_OPENED) => {
            as_event::<IncidentThreadOpened>(content_type, body)
        }
        Some(events::ACCOUNT_DEACTIVATED) => as_event::<AccountDeactivated>(content_type, body),
        Some(events::NOTIFICATION_NOTICE_UNDELIVERED) => {
            as_event::<NoticeUndelivered>(content_type, body)
        }
        Some(other) => Err(format!(
            "{other:?} is not a routing key of Candor's contract"
        )),
        None => Err("the original routing key is not known".to_owned()),
    };
    match decoded {
        Ok(mut json) => {
            redact(&mut json);
            Payload::Event { json }
        }
        Err(error) => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(mut json) => {
                redact(&mut json);
                Payload::Json { json, error }
            }
            Err(_) => Payload::Undecodable {
                bytes: body.len(),
                error,
            },
        },
    }
}

/// A name under which a secret may hide: tokens, passwords, hashes, keys.
fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "password",
        "secret",
        "hash",
        "salt",
        "authorization",
        "credential",
        "cookie",
    ]
    .iter()
    .any(|word| name.ends_with(word))
}

/// Replaces every text under a secret-looking key, at any depth (a flag
/// such as `has_password_hash: true` stays readable).
fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            for (key, item) in object.iter_mut() {
                if looks_secret(key) && item.is_string() {
                    *item = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_values_are_redacted_at_any_depth() {
        let mut json = serde_json::json!({
            "incident_id": "x",
            "password_reset_scope": "all",
            "accounts": [{"email": "ada@example.org", "reset_token": "abc", "passwordHash": "h"}],
        });
        redact(&mut json);
        assert_eq!(json["accounts"][0]["reset_token"], REDACTED);
        assert_eq!(json["accounts"][0]["passwordHash"], REDACTED);
        assert_eq!(json["accounts"][0]["email"], "ada@example.org");
        assert_eq!(json["password_reset_scope"], "all");
    }

    #[test]
    fn a_body_that_decodes_as_nothing_is_not_shown() {
        let payload = decode(Some(events::BREACH_REPORTED), None, &[0xff, 0xff, 0x01]);
        assert!(
            matches!(payload, Payload::Undecodable { bytes: 3, .. }),
            "{payload:?}"
        );
    }
}
