//! The `candor_parked_messages` table: park, claim under a lease, remove.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::messaging::{IncomingMessage, header_string};

/// One parked message, claimed by a drain.
pub(super) struct Parked {
    /// The row.
    pub(super) id: i64,
    /// The incident it waits for.
    pub(super) incident_id: String,
    /// When it was parked.
    pub(super) parked_at: DateTime<Utc>,
    /// The message as it arrived.
    pub(super) message: IncomingMessage,
    /// Its text headers, to forward when it is dead-lettered.
    pub(super) headers: BTreeMap<String, String>,
}

struct Row {
    id: i64,
    incident_id: String,
    routing_key: String,
    content_type: Option<String>,
    message_type: Option<String>,
    message_id: Option<String>,
    user_id: Option<String>,
    headers: Json<BTreeMap<String, String>>,
    body: Vec<u8>,
    parked_at: DateTime<Utc>,
}

pub(super) async fn insert(
    conn: &mut PgConnection,
    incident_id: &str,
    dedup_key: &str,
    message: &IncomingMessage,
) -> sqlx::Result<bool> {
    let headers: BTreeMap<String, String> = message
        .headers
        .inner()
        .keys()
        .filter_map(|name| {
            header_string(&message.headers, name.as_str()).map(|value| (name.to_string(), value))
        })
        .collect();
    // `xmax = 0` only for a row this statement inserted (not one it updated).
    sqlx::query_scalar!(
        r#"INSERT INTO candor_parked_messages (incident_id, dedup_key, routing_key, content_type,
             message_type, message_id, user_id, headers, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (incident_id, dedup_key)
             DO UPDATE SET claim_token = NULL, claimed_until = NULL
         RETURNING xmax = 0 AS "inserted!""#,
        incident_id,
        dedup_key,
        message.routing_key,
        message.content_type,
        message.message_type,
        message.message_id,
        message.user_id,
        Json(headers) as _,
        message.body,
    )
    .fetch_one(conn)
    .await
}

pub(super) async fn count(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM candor_parked_messages WHERE incident_id = $1"#,
        incident_id,
    )
    .fetch_one(conn)
    .await
}

/// Which rows of an incident a claim takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Claim {
    /// Every unclaimed row (a drain).
    All,
    /// Unclaimed rows parked before `now - ttl` (expiry).
    ParkedLongerThan(Duration),
}

/// Claims up to `limit` unclaimed rows of `incident_id` after row `after`
/// (oldest first) for `lease`, in a transaction of its own, so no lock is
/// held while handlers run. Returns them in id order. The cursor keeps one
/// drain from taking a row twice (a row its handler parked again).
pub(super) async fn claim(
    pool: &PgPool,
    incident_id: &str,
    which: Claim,
    after: i64,
    limit: u16,
    lease: Duration,
    token: Uuid,
) -> sqlx::Result<Vec<Parked>> {
    let older_than_ms = match which {
        Claim::All => None,
        Claim::ParkedLongerThan(ttl) => Some(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
    };
    let mut rows = sqlx::query_as!(
        Row,
        r#"UPDATE candor_parked_messages SET claim_token = $4,
             claimed_until = now() + $5::bigint * interval '1 millisecond'
         WHERE id IN (
             SELECT id FROM candor_parked_messages
             WHERE incident_id = $1 AND id > $6
               AND (claimed_until IS NULL OR claimed_until < now())
               AND ($2::bigint IS NULL OR parked_at < now() - $2 * interval '1 millisecond')
             ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, incident_id, routing_key, content_type, message_type, message_id,
             user_id, headers AS "headers: Json<BTreeMap<String, String>>", body, parked_at"#,
        incident_id,
        older_than_ms,
        i64::from(limit),
        token,
        i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        after,
    )
    .fetch_all(pool)
    .await?;
    rows.sort_unstable_by_key(|row| row.id);
    Ok(rows.into_iter().map(Parked::from).collect())
}

/// Removes a row still held by this claim; `false` when it was parked again
/// meanwhile (its claim was reset).
pub(super) async fn remove(pool: &PgPool, id: i64, token: Uuid) -> sqlx::Result<bool> {
    let removed = sqlx::query!(
        "DELETE FROM candor_parked_messages WHERE id = $1 AND claim_token = $2",
        id,
        token,
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(removed == 1)
}

/// Gives rows of this claim back to the next drain.
pub(super) async fn release(pool: &PgPool, ids: &[i64], token: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE candor_parked_messages SET claim_token = NULL, claimed_until = NULL
         WHERE id = ANY($1) AND claim_token = $2",
        ids,
        token,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Incidents with parked messages, those waiting longest first, at most
/// `limit`.
pub(super) async fn incidents(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT incident_id FROM candor_parked_messages
         GROUP BY incident_id ORDER BY min(parked_at) LIMIT $1",
        limit,
    )
    .fetch_all(pool)
    .await
}

impl From<Row> for Parked {
    fn from(row: Row) -> Self {
        let headers = row.headers.0;
        let mut table = FieldTable::default();
        for (name, value) in &headers {
            table.insert(
                ShortString::from(name.as_str()),
                AMQPValue::LongString(LongString::from(value.as_str())),
            );
        }
        let mut properties = BasicProperties::default().with_headers(table.clone());
        if let Some(content_type) = &row.content_type {
            properties = properties.with_content_type(content_type.as_str().into());
        }
        if let Some(message_id) = &row.message_id {
            properties = properties.with_message_id(message_id.as_str().into());
        }
        let message = IncomingMessage {
            routing_key: row.routing_key,
            exchange: String::new(),
            body: row.body,
            content_type: row.content_type,
            message_id: row.message_id,
            message_type: row.message_type,
            timestamp: None,
            user_id: row.user_id,
            headers: table,
            // It was delivered and acked before it was parked.
            redelivered: true,
            properties,
        };
        Self {
            id: row.id,
            incident_id: row.incident_id,
            parked_at: row.parked_at,
            message,
            headers,
        }
    }
}
