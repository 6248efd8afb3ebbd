//! Dead-lettering with the reason attached: the consumer republishes the
//! message to the dead-letter exchange itself (the broker's own dead-lettering
//! cannot add a header), then acks the original. The republished message
//! carries the consumer's own `user_id` (RabbitMQ refuses anyone else's) and
//! the original publisher's in `x-candor-original-user-id`.

use lapin::message::Delivery;
use lapin::options::{BasicNackOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, LongString};

use super::consumer::{MessageHandler, Shared, ack};
use super::message::{
    HEADER_ATTEMPTS, HEADER_DEAD_LETTERED_AT, HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY,
    HEADER_ORIGINAL_USER_ID, IncomingMessage,
};
use super::publisher::PublishError;

/// Longest `x-candor-error` kept; a reason is for a human, not a core dump.
const MAX_REASON_BYTES: usize = 4_096;

/// Publishes the message with its reason to the dead-letter exchange (routed
/// to this queue's dead-letter queue), waits for the confirm, then acks the
/// original. If the broker was unavailable for that publish (a failover),
/// the message goes back to the queue, to be dead-lettered with its reason
/// once the broker is back (a quorum queue's delivery limit bounds the
/// tries); if the broker refused it, the message is rejected instead, so the
/// broker dead-letters it itself (without the reason) rather than loop.
pub(super) async fn dead_letter<H: MessageHandler>(
    shared: &Shared<H>,
    delivery: &Delivery,
    message: &IncomingMessage,
    reason: &str,
    attempts: u32,
) {
    let reason = truncate(reason, MAX_REASON_BYTES);
    tracing::warn!(
        queue = %shared.queue,
        routing_key = %message.routing_key,
        message_id = message.message_id.as_deref().unwrap_or_default(),
        user_id = message.user_id.as_deref().unwrap_or_default(),
        attempts,
        reason = %reason,
        "message dead-lettered"
    );
    let mut headers = message.headers.clone();
    headers.insert(
        HEADER_ERROR.into(),
        AMQPValue::LongString(LongString::from(reason)),
    );
    headers.insert(
        HEADER_ORIGINAL_ROUTING_KEY.into(),
        AMQPValue::LongString(LongString::from(message.routing_key.as_str())),
    );
    headers.insert(
        HEADER_ATTEMPTS.into(),
        AMQPValue::LongLongInt(i64::from(attempts)),
    );
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    headers.insert(
        HEADER_DEAD_LETTERED_AT.into(),
        AMQPValue::LongString(LongString::from(now.as_str())),
    );
    if let Some(user_id) = &message.user_id {
        headers.insert(
            HEADER_ORIGINAL_USER_ID.into(),
            AMQPValue::LongString(LongString::from(user_id.as_str())),
        );
    }
    // The publisher sets our own user_id in place of the original one.
    let properties = message.properties.clone().with_headers(headers);
    match shared
        .dead_letters
        .publish_raw(&shared.queue, &message.body, properties)
        .await
    {
        Ok(()) => ack(delivery).await,
        Err(error @ PublishError::Unavailable(_)) => {
            tracing::warn!(error = %error, "cannot publish the dead letter now, requeueing the message");
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            // Fails when the channel is gone, which requeues it as well.
            let _ = delivery.acker.nack(requeue).await;
        }
        Err(error) => {
            tracing::error!(error = %error, "cannot publish the dead letter, rejecting the message");
            let reject = BasicRejectOptions { requeue: false };
            if let Err(error) = delivery.acker.reject(reject).await {
                tracing::warn!(error = %error, "reject failed, the message will be redelivered");
            }
        }
    }
}

fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
