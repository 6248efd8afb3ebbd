//! The transactional outbox: an event is written to `candor_outbox` in the
//! same transaction as the change it announces, and [`OutboxRelay`] publishes
//! it afterwards with publisher confirms. Nothing is announced that was
//! rolled back, and nothing committed is lost: a row stays pending until the
//! broker confirmed it, across crashes and broker outages (at-least-once; a
//! crash between the confirm and the commit publishes a row twice, which
//! idempotent consumers absorb).

mod relay;

use prost::{Message, Name};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::messaging::CONTENT_TYPE_PROTOBUF;
use crate::messaging::trace_context;

pub use relay::{OutboxRelay, RelayBatch};

/// The LISTEN/NOTIFY channel that wakes the relay when a row is enqueued.
pub const NOTIFY_CHANNEL: &str = "candor_outbox";

/// Writes a protobuf event to the outbox on `conn` (pass the transaction of
/// the change it announces) and returns its message id. The current trace
/// context is stored with it, so the consumer's span joins this trace.
#[tracing::instrument(skip_all, fields(routing_key, message_type))]
pub async fn enqueue(
    conn: &mut PgConnection,
    routing_key: &str,
    message_type: &str,
    payload: Vec<u8>,
) -> sqlx::Result<Uuid> {
    enqueue_with_content_type(
        conn,
        routing_key,
        Some(message_type),
        CONTENT_TYPE_PROTOBUF,
        payload,
    )
    .await
}

/// Encodes `message` and enqueues it under its full protobuf name.
pub async fn enqueue_message<M: Message + Name>(
    conn: &mut PgConnection,
    routing_key: &str,
    message: &M,
) -> sqlx::Result<Uuid> {
    enqueue(conn, routing_key, &M::full_name(), message.encode_to_vec()).await
}

/// Enqueues a Candor event under its own routing key.
pub async fn enqueue_event<E: candor_proto::events::v1::Event>(
    conn: &mut PgConnection,
    event: &E,
) -> sqlx::Result<Uuid> {
    enqueue_message(conn, E::ROUTING_KEY, event).await
}

/// Like [`enqueue`] for any content type (e.g. `application/json`).
pub async fn enqueue_with_content_type(
    conn: &mut PgConnection,
    routing_key: &str,
    message_type: Option<&str>,
    content_type: &str,
    payload: Vec<u8>,
) -> sqlx::Result<Uuid> {
    let message_id = Uuid::now_v7();
    let headers = Json(trace_context::current_headers());
    // One round trip; the notification is sent only when the transaction
    // commits, and PostgreSQL folds repeated ones in a transaction into one.
    sqlx::query!(
        r#"WITH inserted AS (
             INSERT INTO candor_outbox (message_id, routing_key, message_type, content_type, payload, headers)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id
         )
         SELECT pg_notify($7, '') FROM inserted"#,
        message_id,
        routing_key,
        message_type,
        content_type,
        payload,
        headers as _,
        NOTIFY_CHANNEL,
    )
    .execute(conn)
    .await?;
    Ok(message_id)
}
