//! `notification.notice_undelivered`: a breach notice that did not reach
//! its member by email (FAILED, SUPPRESSED for the address or for having
//! none, BOUNCED) is announced through the platform's transactional outbox,
//! in the transaction that made it so, for the account service to tell the
//! member in the product.
//!
//! Written here in bulk (one statement for any number of notices: a batch
//! of members without an email address, a recorder's batch of failures)
//! rather than through `candor_platform::outbox::enqueue_event`, one round
//! trip per event; the rows are those `enqueue` writes, and the platform's
//! relay publishes them.

use candor_platform::messaging::trace_context;
use candor_platform::outbox::NOTIFY_CHANNEL;
use candor_proto::events::v1::{Event as _, NoticeUndelivered, UndeliveredReason};
use chrono::{DateTime, Utc};
use prost::{Message as _, Name as _};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

/// One breach notice that will not reach its member by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    /// The notice's incident.
    pub incident_id: String,
    /// The member.
    pub account_id: Uuid,
    /// Why.
    pub reason: UndeliveredReason,
}

/// Writes a `NoticeUndelivered` per notice to the outbox on `connection`
/// (the transaction of the change), all decided at `occurred_at`. Nothing
/// for an empty slice.
pub async fn announce(
    connection: &mut PgConnection,
    notices: &[Undelivered],
    occurred_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if notices.is_empty() {
        return Ok(());
    }
    let occurred_at = candor_platform::time::timestamp(occurred_at);
    let message_ids: Vec<Uuid> = notices.iter().map(|_| Uuid::now_v7()).collect();
    let payloads: Vec<Vec<u8>> = notices
        .iter()
        .map(|notice| {
            NoticeUndelivered {
                incident_id: notice.incident_id.clone(),
                account_id: notice.account_id.to_string(),
                reason: notice.reason as i32,
                occurred_at: Some(occurred_at),
            }
            .encode_to_vec()
        })
        .collect();
    let headers = Json(trace_context::current_headers());
    sqlx::query!(
        r#"WITH inserted AS (
             INSERT INTO candor_outbox (message_id, routing_key, message_type, content_type, payload, headers)
             SELECT t.message_id, $3::text, $4::text, $5::text, t.payload, $6::jsonb
             FROM UNNEST($1::uuid[], $2::bytea[]) AS t(message_id, payload)
             RETURNING id
         )
         SELECT pg_notify($7, '') FROM (SELECT 1 FROM inserted LIMIT 1) AS one"#,
        &message_ids,
        &payloads,
        NoticeUndelivered::ROUTING_KEY,
        NoticeUndelivered::full_name(),
        candor_proto::events::v1::CONTENT_TYPE_PROTOBUF,
        headers as _,
        NOTIFY_CHANNEL,
    )
    .execute(connection)
    .await?;
    Ok(())
}

/// The reason a suppressed notice is announced with: `suppression_reason`
/// 1 (address suppressed) and 3 (no email address); `None` for 2 (the
/// member deactivated: they left) and anything else.
pub fn suppression_reason(stored: i16) -> Option<UndeliveredReason> {
    match stored {
        1 => Some(UndeliveredReason::Suppressed),
        3 => Some(UndeliveredReason::NoEmailAddress),
        _ => None,
    }
}
