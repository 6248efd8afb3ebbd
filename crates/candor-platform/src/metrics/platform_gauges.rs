//! Gauges every service has that live outside the process: the outbox
//! backlog, its own dead-letter queue, parked messages and the database
//! pool. Read at scrape time.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use prometheus::{Gauge, IntGauge, IntGaugeVec, Opts};
use sqlx::PgPool;

use super::Metrics;
use crate::messaging::{Broker, ServiceQueue, Topology, short};

/// How long the pool probe waits for a connection before reporting the wait
/// so far (the scrape must not hang on a starved pool).
const POOL_PROBE_LIMIT: Duration = Duration::from_secs(3);

#[derive(Clone)]
struct Gauges {
    outbox_pending: IntGauge,
    outbox_oldest_age: Gauge,
    dead_letters: IntGaugeVec,
    parked: IntGaugeVec,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    pool_wait: Gauge,
}

/// Registers the platform's gauges for the service consuming `queue` and
/// the hook that refreshes them at each scrape.
pub fn register_platform_gauges(
    metrics: &Metrics,
    pool: PgPool,
    broker: Broker,
    topology: &Topology,
    queue: ServiceQueue,
) -> anyhow::Result<()> {
    if !metrics.is_enabled() {
        return Ok(());
    }
    let gauges = Gauges {
        outbox_pending: metrics.register(IntGauge::new(
            "candor_outbox_pending_messages",
            "Outbox rows not yet published to RabbitMQ.",
        )?)?,
        outbox_oldest_age: metrics.register(Gauge::new(
            "candor_outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none).",
        )?)?,
        dead_letters: metrics.register(IntGaugeVec::new(
            Opts::new(
                "candor_dead_letter_queue_messages",
                "Messages in this service's dead-letter queue.",
            ),
            &["queue"],
        )?)?,
        parked: metrics.register(IntGaugeVec::new(
            Opts::new(
                "candor_parked_messages",
                "Messages parked until their incident is known to this service.",
            ),
            &["queue"],
        )?)?,
        pool_connections: metrics.register(IntGaugeVec::new(
            Opts::new(
                "candor_db_pool_connections",
                "PostgreSQL pool connections, idle or in use.",
            ),
            &["state"],
        )?)?,
        pool_max: metrics.register(IntGauge::new(
            "candor_db_pool_max_connections",
            "Largest number of PostgreSQL pool connections (DATABASE_MAX_CONNECTIONS).",
        )?)?,
        pool_wait: metrics.register(Gauge::new(
            "candor_db_pool_acquire_wait_seconds",
            "How long a connection request waited at the last scrape (a probe queued like any request).",
        )?)?,
    };
    gauges
        .pool_max
        .set(i64::from(pool.options().get_max_connections()));
    let queue_label = queue.name();
    let dead_letter_queue = topology.dead_letter_queue_name(queue.name());
    metrics.on_scrape("platform gauges", move || {
        let gauges = gauges.clone();
        let pool = pool.clone();
        let broker = broker.clone();
        let dead_letter_queue = dead_letter_queue.clone();
        Box::pin(async move {
            let database = refresh_database(&gauges, &pool, queue_label);
            let broker = refresh_dead_letters(&gauges, &broker, &dead_letter_queue, queue_label);
            let (database, broker) = tokio::join!(database, broker);
            for (what, result) in [("database", database), ("broker", broker)] {
                if let Err(error) = result {
                    tracing::warn!(source = what, error = %format!("{error:#}"), "cannot refresh metrics");
                }
            }
        })
    });
    Ok(())
}

async fn refresh_database(gauges: &Gauges, pool: &PgPool, queue: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let probe = tokio::time::timeout(POOL_PROBE_LIMIT, pool.acquire()).await;
    gauges.pool_wait.set(started.elapsed().as_secs_f64());
    let size = i64::from(pool.size());
    let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
    let mut connection = match probe {
        Ok(connection) => connection.context("acquiring a connection for the metrics")?,
        Err(_) => {
            set_pool(gauges, size, idle);
            anyhow::bail!("no pooled connection within {POOL_PROBE_LIMIT:?}");
        }
    };
    // The probe's own connection is not "in use" by the service.
    set_pool(gauges, size - 1, idle);
    let outbox = sqlx::query!(
        r#"SELECT count(*) AS "pending!",
                  COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0) AS "oldest_age_seconds!"
             FROM candor_outbox
            WHERE published_at IS NULL"#
    )
    .fetch_one(&mut *connection)
    .await
    .context("counting pending outbox rows")?;
    gauges.outbox_pending.set(outbox.pending);
    gauges.outbox_oldest_age.set(outbox.oldest_age_seconds);
    let parked = sqlx::query_scalar!(r#"SELECT count(*) AS "parked!" FROM candor_parked_messages"#)
        .fetch_one(&mut *connection)
        .await
        .context("counting parked messages")?;
    gauges.parked.with_label_values(&[queue]).set(parked);
    Ok(())
}

fn set_pool(gauges: &Gauges, size: i64, idle: i64) {
    gauges
        .pool_connections
        .with_label_values(&["idle"])
        .set(idle);
    gauges
        .pool_connections
        .with_label_values(&["in_use"])
        .set((size - idle).max(0));
}

/// The depth of the dead-letter queue, by a passive declare (which changes
/// nothing and needs no management API).
async fn refresh_dead_letters(
    gauges: &Gauges,
    broker: &Broker,
    dead_letter_queue: &str,
    queue: &str,
) -> anyhow::Result<()> {
    let channel = broker.channel().await.context("opening a channel")?;
    let declared = channel
        .queue_declare(
            short(dead_letter_queue)?,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("passive declare of {dead_letter_queue}"));
    let _ = channel.close(200, "metrics read".into()).await;
    let declared = declared?;
    gauges
        .dead_letters
        .with_label_values(&[queue])
        .set(i64::from(declared.message_count()));
    Ok(())
}
