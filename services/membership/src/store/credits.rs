//! The `credits` table: the append-only ledger. Rows are inserted, never
//! updated or deleted; `voided_by_credit_id` is derived from the VOID that
//! references an entry.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ledger::{LedgerEntry, kind_from_db};

/// A ledger entry as stored, with the VOID that reversed it, if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CreditRow {
    pub credit_id: Uuid,
    pub account_id: Uuid,
    pub kind: i16,
    pub value_minor_units: i64,
    pub currency: String,
    pub duration_days: i32,
    pub reason: String,
    pub incident_id: Option<String>,
    pub compensation: bool,
    pub idempotency_key: Option<String>,
    pub voids_credit_id: Option<Uuid>,
    pub voided_by_credit_id: Option<Uuid>,
    pub tier_after: i16,
    pub created_at: DateTime<Utc>,
}

impl CreditRow {
    /// The entry as the state replay sees it.
    pub fn entry(&self) -> LedgerEntry {
        LedgerEntry {
            credit_id: self.credit_id,
            kind: kind_from_db(self.kind),
            value_minor_units: self.value_minor_units,
            currency: self.currency.clone(),
            duration_days: self.duration_days,
            voids_credit_id: self.voids_credit_id,
            created_at: self.created_at,
        }
    }
}

const COLUMNS: &str = "c.credit_id, c.account_id, c.kind, c.value_minor_units, c.currency, \
    c.duration_days, c.reason, c.incident_id, c.compensation, c.idempotency_key, \
    c.voids_credit_id, \
    (SELECT v.credit_id FROM credits v WHERE v.voids_credit_id = c.credit_id) AS voided_by_credit_id, \
    c.tier_after, c.created_at";

/// An account's entries as a row source. The two halves match the two
/// partial indexes led by `account_id` (compensation entries, the rest), so
/// neither needs a scan of the whole ledger.
const OF_ACCOUNT: &str = "(SELECT * FROM credits WHERE account_id = $4 AND compensation \
    UNION ALL SELECT * FROM credits WHERE account_id = $4 AND NOT compensation)";

/// A ledger entry to write through GrantCredit.
#[derive(Debug, Clone)]
pub struct NewCredit<'a> {
    pub credit_id: Uuid,
    pub account_id: Uuid,
    pub kind: i16,
    pub value_minor_units: i64,
    pub currency: &'a str,
    pub duration_days: i32,
    pub reason: &'a str,
    pub incident_id: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub voids_credit_id: Option<Uuid>,
    pub tier_after: i16,
    pub created_at: DateTime<Utc>,
}

/// Appends an entry. A second VOID of the same entry fails with a unique
/// violation on `credits_voided_once`.
pub async fn insert(conn: &mut PgConnection, credit: &NewCredit<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO credits (credit_id, account_id, kind, value_minor_units, currency, \
             duration_days, reason, incident_id, compensation, idempotency_key, \
             voids_credit_id, tier_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $11, $12)",
    )
    .bind(credit.credit_id)
    .bind(credit.account_id)
    .bind(credit.kind)
    .bind(credit.value_minor_units)
    .bind(credit.currency)
    .bind(credit.duration_days)
    .bind(credit.reason)
    .bind(credit.incident_id)
    .bind(credit.idempotency_key)
    .bind(credit.voids_credit_id)
    .bind(credit.tier_after)
    .bind(credit.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One entry of `account_id`'s ledger.
pub async fn get(
    conn: &mut PgConnection,
    account_id: Uuid,
    credit_id: Uuid,
) -> sqlx::Result<Option<CreditRow>> {
    sqlx::query_as::<_, CreditRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM credits c WHERE c.credit_id = $1 AND c.account_id = $2"
    )))
    .bind(credit_id)
    .bind(account_id)
    .fetch_optional(conn)
    .await
}

/// Every entry of `account_id`'s ledger, oldest first.
pub async fn for_account(
    conn: &mut PgConnection,
    account_id: Uuid,
) -> sqlx::Result<Vec<CreditRow>> {
    sqlx::query_as::<_, CreditRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {} c ORDER BY c.created_at, c.credit_id",
        OF_ACCOUNT.replace("$4", "$1")
    )))
    .bind(account_id)
    .fetch_all(conn)
    .await
}

/// Which entries a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditFilter {
    Account(Uuid),
    Incident(String),
    AccountAndIncident(Uuid, String),
}

/// Where a page starts: strictly older than this `(created_at, credit_id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub credit_id: Uuid,
}

impl Cursor {
    /// Before every entry: the first page.
    pub fn start() -> Self {
        Self {
            created_at: DateTime::<Utc>::MAX_UTC,
            credit_id: Uuid::max(),
        }
    }
}

/// Up to `limit` entries matching `filter`, newest first, after `cursor`.
pub async fn list(
    conn: &mut PgConnection,
    filter: &CreditFilter,
    cursor: Cursor,
    limit: i64,
) -> sqlx::Result<Vec<CreditRow>> {
    const PAGE: &str = "AND (c.created_at, c.credit_id) < ($1, $2) \
        ORDER BY c.created_at DESC, c.credit_id DESC LIMIT $3";
    let query = match filter {
        CreditFilter::Account(account) => sqlx::query_as::<_, CreditRow>(sqlx::AssertSqlSafe(
            format!("SELECT {COLUMNS} FROM {OF_ACCOUNT} c WHERE true {PAGE}"),
        ))
        .bind(cursor.created_at)
        .bind(cursor.credit_id)
        .bind(limit)
        .bind(*account),
        CreditFilter::Incident(incident) => sqlx::query_as::<_, CreditRow>(sqlx::AssertSqlSafe(
            format!("SELECT {COLUMNS} FROM credits c WHERE c.incident_id = $4 {PAGE}"),
        ))
        .bind(cursor.created_at)
        .bind(cursor.credit_id)
        .bind(limit)
        .bind(incident.clone()),
        CreditFilter::AccountAndIncident(account, incident) => {
            sqlx::query_as::<_, CreditRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM {OF_ACCOUNT} c WHERE c.incident_id = $5 {PAGE}"
            )))
            .bind(cursor.created_at)
            .bind(cursor.credit_id)
            .bind(limit)
            .bind(*account)
            .bind(incident.clone())
        }
    };
    query.fetch_all(conn).await
}
