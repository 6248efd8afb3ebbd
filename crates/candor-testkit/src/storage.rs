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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{published, table_sizes};
    use crate::database::TestDatabase;

    #[tokio::test]
    async fn counts_every_table_and_what_the_outbox_published() {
        let database = TestDatabase::create_migrated().await.unwrap();
        let pool = database.pool();
        sqlx::query("CREATE TABLE \"odd \"\"name\" (id bigint PRIMARY KEY, body text)")
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO \"odd \"\"name\" SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO candor_outbox (message_id, routing_key, payload, published_at)
             VALUES (gen_random_uuid(), 'a.key', '\\x010203', now()),
                    (gen_random_uuid(), 'a.key', '\\x0405', now()),
                    (gen_random_uuid(), 'b.key', '\\x06', NULL)",
        )
        .execute(pool)
        .await
        .unwrap();

        let sizes = table_sizes(pool).await.unwrap();
        let odd = sizes.iter().find(|t| t.table == "odd \"name").unwrap();
        assert_eq!(odd.rows, 1000);
        // 1000 rows of over 100 bytes each, and a primary key.
        assert!(odd.heap_bytes > 100_000, "{odd:?}");
        assert!(odd.index_bytes > 0, "{odd:?}");
        assert!(
            odd.total_bytes >= odd.heap_bytes + odd.index_bytes,
            "{odd:?}"
        );
        assert_eq!(sizes.first().map(|t| t.table.as_str()), Some("odd \"name"));

        let sent = published(pool).await.unwrap();
        assert_eq!(
            sent.len(),
            1,
            "the unpublished row is not counted: {sent:?}"
        );
        assert_eq!(sent[0].routing_key, "a.key");
        assert_eq!((sent[0].messages, sent[0].payload_bytes), (2, 5));
    }
}
