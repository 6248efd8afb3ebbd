//! What a database holds after a run, for capacity figures
//! (docs/capacity.md): every table's rows and bytes, and what the outbox
//! published, by routing key.

use anyhow::Context;
use sqlx::PgPool;

/// One table and the space it takes, as PostgreSQL counts it.
#[derive(Debug, Clone)]
pub struct TableSize {
    /// The table's name (schema `public`).
    pub table: String,
    /// Rows in it (`count(*)`).
    pub rows: i64,
    /// The table's own pages (`pg_relation_size`, main fork).
    pub heap_bytes: i64,
    /// Its indexes (`pg_indexes_size`).
    pub index_bytes: i64,
    /// Everything: heap, indexes, TOAST, free-space and visibility maps
    /// (`pg_total_relation_size`).
    pub total_bytes: i64,
}

/// Every table of the `public` schema, largest first.
pub async fn table_sizes(pool: &PgPool) -> anyhow::Result<Vec<TableSize>> {
    let tables: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT c.relname::text,
                pg_relation_size(c.oid),
                pg_indexes_size(c.oid),
                pg_total_relation_size(c.oid)
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          ORDER BY pg_total_relation_size(c.oid) DESC, c.relname",
    )
    .fetch_all(pool)
    .await
    .context("reading the tables' sizes")?;
    let mut sizes = Vec::with_capacity(tables.len());
    for (table, heap_bytes, index_bytes, total_bytes) in tables {
        // The name comes from the catalogue, quoted as an identifier.
        let statement = format!(r#"SELECT count(*) FROM "{}""#, table.replace('"', "\"\""));
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .fetch_one(pool)
            .await
            .with_context(|| format!("counting the rows of {table}"))?;
        sizes.push(TableSize {
            table,
            rows,
            heap_bytes,
            index_bytes,
            total_bytes,
        });
    }
    Ok(sizes)
}

/// Rewrites every table compactly (`VACUUM FULL`) and refreshes the
/// planner's statistics: what the tables take without the dead rows the
/// run's updates left behind.
pub async fn compact(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("VACUUM (FULL, ANALYZE)")
        .execute(pool)
        .await
        .context("VACUUM (FULL, ANALYZE)")?;
    Ok(())
}

/// What a service's outbox published, per routing key.
#[derive(Debug, Clone)]
pub struct Published {
    /// The routing key.
    pub routing_key: String,
    /// Messages.
    pub messages: i64,
    /// Their payloads' bytes (the AMQP body; headers and framing not counted).
    pub payload_bytes: i64,
}

/// What the outbox (`candor_outbox`) holds as published, per routing key;
/// published rows stay for the relay's retention (7 days), so after a run
/// this is everything the run published.
pub async fn published(pool: &PgPool) -> anyhow::Result<Vec<Published>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT routing_key, count(*), COALESCE(sum(octet_length(payload)), 0)::bigint
           FROM candor_outbox
          WHERE published_at IS NOT NULL
          GROUP BY routing_key
          ORDER BY routing_key",
    )
    .fetch_all(pool)
    .await
    .context("reading the published outbox rows")?;
    Ok(rows
        .into_iter()
        .map(|(routing_key, messages, payload_bytes)| Published {
            routing_key,
            messages,
            payload_bytes,
        })
        .collect())
}
