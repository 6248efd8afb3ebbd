//! Publishes pending outbox rows in id order, with confirms, and marks them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use sqlx::types::Json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::NOTIFY_CHANNEL;
use crate::messaging::{Backoff, OutgoingMessage, PublishError, Publisher};

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayBatch {
    /// Rows confirmed by the broker and marked published.
    pub published: usize,
    /// Rows the broker did not take; they stay pending with `attempts` and
    /// `last_error` updated.
    pub failed: usize,
}

/// The task that moves outbox rows to RabbitMQ. Run one per service replica:
/// rows are locked with `FOR UPDATE SKIP LOCKED`, so replicas share the work
/// without publishing a row twice (the order is then per replica batch).
///
/// It wakes on `NOTIFY candor_outbox` (sent by [`super::enqueue`]) and polls as
/// a fallback; broker or database errors are logged and retried with backoff.
/// Published rows are deleted after a retention period.
#[derive(Debug)]
pub struct OutboxRelay {
    pool: PgPool,
    publisher: Publisher,
    batch_size: i64,
    poll_interval: Duration,
    retention: Duration,
    cleanup_interval: Duration,
    error_backoff: Backoff,
}

impl OutboxRelay {
    pub fn new(pool: PgPool, publisher: Publisher) -> Self {
        Self {
            pool,
            publisher,
            batch_size: 500,
            poll_interval: Duration::from_secs(2),
            retention: Duration::from_secs(7 * 24 * 3600),
            cleanup_interval: Duration::from_secs(3600),
            error_backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(30)),
        }
    }

    /// Rows per batch (one transaction, confirms pipelined). Default 500.
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = i64::from(batch_size.max(1));
        self
    }

    /// How often to look for rows when no notification arrives. Default 2 s.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// How long published rows are kept (for investigation). Default 7 days.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Backoff after a failed batch. Default 250 ms doubling up to 30 s.
    pub fn with_error_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.error_backoff = Backoff::new(initial, max);
        self
    }

    /// Relays until `shutdown` is cancelled. Never gives up on errors; a batch
    /// in flight when shutdown comes finishes first.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut listener: Option<PgListener> = None;
        let mut last_cleanup: Option<Instant> = None;
        tracing::info!("outbox relay started");
        while !shutdown.is_cancelled() {
            // LISTEN before reading, so a row committed during the read
            // still wakes the next wait.
            if listener.is_none() {
                listener = self.listen().await;
            }
            if last_cleanup.is_none_or(|at| at.elapsed() >= self.cleanup_interval) {
                last_cleanup = Some(Instant::now());
                if let Err(error) = self.delete_published().await {
                    tracing::warn!(error = %format!("{error:#}"), "outbox cleanup failed");
                }
            }
            // Back off only when nothing moved: a row the broker keeps
            // refusing (say, an unroutable key) must not slow down the rest.
            let wait = match self.relay_batch().await {
                Ok(batch) if batch.published > 0 || batch.failed == 0 => {
                    self.error_backoff.reset();
                    let full = i64::try_from(batch.published + batch.failed).unwrap_or(i64::MAX)
                        >= self.batch_size;
                    if full {
                        continue;
                    }
                    None
                }
                Ok(batch) => Some(format!("{} rows not accepted", batch.failed)),
                Err(error) => Some(format!("{error:#}")),
            };
            match wait {
                None => wait_for_work(&mut listener, self.poll_interval, &shutdown).await,
                Some(reason) => {
                    let delay = self.error_backoff.next_delay();
                    tracing::warn!(reason = %reason, retry_in_ms = delay.as_millis(), "outbox relay failed, retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        tracing::info!("outbox relay stopped");
        Ok(())
    }

    /// Publishes up to one batch of pending rows in id order and records the
    /// outcome in the same transaction that locked them.
    #[tracing::instrument(name = "outbox relay batch", skip_all, fields(published, failed))]
    pub async fn relay_batch(&self) -> anyhow::Result<RelayBatch> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .context("beginning the outbox transaction")?;
        let rows = sqlx::query_as!(
            PendingRow,
            r#"SELECT id, message_id, routing_key, message_type, content_type, payload,
                      headers AS "headers: Json<BTreeMap<String, String>>", created_at
             FROM candor_outbox
             WHERE published_at IS NULL
             ORDER BY id
             LIMIT $1
             FOR UPDATE SKIP LOCKED"#,
            self.batch_size,
        )
        .fetch_all(&mut *transaction)
        .await
        .context("reading pending outbox rows")?;
        if rows.is_empty() {
            transaction
                .commit()
                .await
                .context("committing the outbox transaction")?;
            return Ok(RelayBatch::default());
        }

        let (ids, messages): (Vec<i64>, Vec<OutgoingMessage>) =
            rows.into_iter().map(PendingRow::into_message).unzip();
        let outcomes = self.publisher.publish_each(messages).await;

        let mut published_ids = Vec::new();
        let mut failed_ids = Vec::new();
        let mut failed_reasons = Vec::new();
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => published_ids.push(id),
                Err(error) => {
                    log_failure(id, &error);
                    failed_ids.push(id);
                    failed_reasons.push(error.to_string());
                }
            }
        }
        sqlx::query!(
            "UPDATE candor_outbox SET published_at = now() WHERE id = ANY($1)",
            &published_ids,
        )
        .execute(&mut *transaction)
        .await
        .context("marking outbox rows published")?;
        if !failed_ids.is_empty() {
            sqlx::query!(
                "UPDATE candor_outbox AS outbox
                 SET attempts = outbox.attempts + 1, last_error = failed.reason
                 FROM UNNEST($1::bigint[], $2::text[]) AS failed(id, reason)
                 WHERE outbox.id = failed.id",
                &failed_ids,
                &failed_reasons,
            )
            .execute(&mut *transaction)
            .await
            .context("recording failed outbox rows")?;
        }
        transaction
            .commit()
            .await
            .context("committing the outbox transaction")?;

        let batch = RelayBatch {
            published: published_ids.len(),
            failed: failed_ids.len(),
        };
        tracing::Span::current().record("published", batch.published);
        tracing::Span::current().record("failed", batch.failed);
        Ok(batch)
    }

    /// Deletes published rows older than the retention, a chunk at a time so
    /// no statement holds locks for long.
    async fn delete_published(&self) -> anyhow::Result<()> {
        const CHUNK: i64 = 10_000;
        let retention_seconds = self.retention.as_secs_f64();
        loop {
            let deleted = sqlx::query!(
                "DELETE FROM candor_outbox WHERE id IN (
                     SELECT id FROM candor_outbox
                     WHERE published_at < now() - make_interval(secs => $1)
                     LIMIT $2
                 )",
                retention_seconds,
                CHUNK,
            )
            .execute(&self.pool)
            .await
            .context("deleting published outbox rows")?
            .rows_affected();
            if deleted > 0 {
                tracing::debug!(deleted, "deleted published outbox rows");
            }
            if i64::try_from(deleted).unwrap_or(i64::MAX) < CHUNK {
                return Ok(());
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let listener = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for outbox notifications, polling");
                None
            }
        }
    }
}

/// Waits for a notification, the poll interval, or shutdown.
async fn wait_for_work(
    listener: &mut Option<PgListener>,
    poll_interval: Duration,
    shutdown: &CancellationToken,
) {
    let Some(active) = listener.as_mut() else {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(poll_interval) => {}
        }
        return;
    };
    tokio::select! {
        () = shutdown.cancelled() => {}
        received = tokio::time::timeout(poll_interval, active.try_recv()) => match received {
            Ok(Ok(Some(_))) => {
                // One pass handles every row committed so far.
                while active.next_buffered().is_some() {}
            }
            Ok(Ok(None)) | Err(_) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "outbox listener failed, reconnecting");
                *listener = None;
            }
        },
    }
}

/// A pending `candor_outbox` row, as the relay reads it.
struct PendingRow {
    id: i64,
    message_id: Uuid,
    routing_key: String,
    message_type: Option<String>,
    content_type: String,
    payload: Vec<u8>,
    headers: Json<BTreeMap<String, String>>,
    created_at: DateTime<Utc>,
}

impl PendingRow {
    /// The row's id and the message to publish for it.
    fn into_message(self) -> (i64, OutgoingMessage) {
        let mut message = OutgoingMessage::new(self.routing_key, self.payload)
            .with_message_id(self.message_id.to_string())
            .with_content_type(self.content_type)
            .with_timestamp(self.created_at);
        message.message_type = self.message_type;
        message.headers = self.headers.0;
        (self.id, message)
    }
}

fn log_failure(id: i64, error: &PublishError) {
    match error {
        PublishError::Unavailable(_) => {
            tracing::debug!(outbox_id = id, error = %error, "outbox row not published");
        }
        _ => tracing::error!(outbox_id = id, error = %error, "outbox row not published"),
    }
}
