//! The `credits` table: the append-only ledger. Rows are inserted, never
//! updated or deleted; `voided_by_credit_id` is derived from the VOID that
//! references an entry.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ledger::{LedgerEntry, kind_from_db};

/// A ledger entry as stored, with the VOID that reversed it, if any.
#[derive(Debug, Clone)]
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

// The queries below read whole entries, each spelling the columns of
// [`CreditRow`] out so the macros can check them. An account's entries come
// from a UNION ALL of its two halves, matching the two partial indexes led
// by `account_id` (`credits_compensation_once` for compensation entries,
// `credits_granted_by_account` for the rest), so neither needs a scan of the
// whole ledger. Columns of a UNION carry no table of origin, so the macro
// cannot know they are NOT NULL: those queries say so with `!`.

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
    sqlx::query!(
        "INSERT INTO credits (credit_id, account_id, kind, value_minor_units, currency, \
             duration_days, reason, incident_id, compensation, idempotency_key, \
             voids_credit_id, tier_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $11, $12)",
        credit.credit_id,
        credit.account_id,
        credit.kind,
        credit.value_minor_units,
        credit.currency,
        credit.duration_days,
        credit.reason,
        credit.incident_id,
        credit.idempotency_key,
        credit.voids_credit_id,
        credit.tier_after,
        credit.created_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The time to stamp a new entry with: the database's clock now. Read it
/// after locking the membership ([`super::memberships::lock`]), so entries
/// of one account are timestamped in the order they are applied (the
/// replay relies on it).
pub async fn entry_timestamp(conn: &mut PgConnection) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar!(r#"SELECT clock_timestamp() AS "now!""#)
        .fetch_one(conn)
        .await
}

/// One entry of `account_id`'s ledger.
pub async fn get(
    conn: &mut PgConnection,
    account_id: Uuid,
    credit_id: Uuid,
) -> sqlx::Result<Option<CreditRow>> {
    sqlx::query_as!(
        CreditRow,
        "SELECT c.credit_id, c.account_id, c.kind, c.value_minor_units, c.currency, \
             c.duration_days, c.reason, c.incident_id, c.compensation, c.idempotency_key, \
             c.voids_credit_id, \
             (SELECT v.credit_id FROM credits v WHERE v.voids_credit_id = c.credit_id) \
                 AS voided_by_credit_id, \
             c.tier_after, c.created_at \
         FROM credits c WHERE c.credit_id = $1 AND c.account_id = $2",
        credit_id,
        account_id,
    )
    .fetch_optional(conn)
    .await
}

/// Every entry of `account_id`'s ledger, oldest first.
pub async fn for_account(
    conn: &mut PgConnection,
    account_id: Uuid,
) -> sqlx::Result<Vec<CreditRow>> {
    sqlx::query_as!(
        CreditRow,
        r#"SELECT c.credit_id AS "credit_id!", c.account_id AS "account_id!", c.kind AS "kind!",
             c.value_minor_units AS "value_minor_units!", c.currency AS "currency!",
             c.duration_days AS "duration_days!", c.reason AS "reason!", c.incident_id,
             c.compensation AS "compensation!", c.idempotency_key, c.voids_credit_id,
             (SELECT v.credit_id FROM credits v WHERE v.voids_credit_id = c.credit_id)
                 AS voided_by_credit_id,
             c.tier_after AS "tier_after!", c.created_at AS "created_at!"
         FROM (SELECT * FROM credits WHERE account_id = $1 AND compensation
               UNION ALL SELECT * FROM credits WHERE account_id = $1 AND NOT compensation) c
         ORDER BY c.created_at, c.credit_id"#,
        account_id,
    )
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
/// One static query per filter, so each keeps its index: an account's
/// halves are read in key order from their partial indexes, an incident's
/// entries from `credits_by_incident`.
pub async fn list(
    conn: &mut PgConnection,
    filter: &CreditFilter,
    cursor: Cursor,
    limit: i64,
) -> sqlx::Result<Vec<CreditRow>> {
    match filter {
        CreditFilter::Account(account) => {
            sqlx::query_as!(
                CreditRow,
        r#"SELECT c.credit_id AS "credit_id!", c.account_id AS "account_id!", c.kind AS "kind!",
                     c.value_minor_units AS "value_minor_units!", c.currency AS "currency!",
                     c.duration_days AS "duration_days!", c.reason AS "reason!", c.incident_id,
                     c.compensation AS "compensation!", c.idempotency_key, c.voids_credit_id,
                     (SELECT v.credit_id FROM credits v WHERE v.voids_credit_id = c.credit_id)
                         AS voided_by_credit_id,
                     c.tier_after AS "tier_after!", c.created_at AS "created_at!"
                 FROM (SELECT * FROM credits WHERE account_id = $1 AND compensation
                       UNION ALL SELECT * FROM credits WHERE account_id = $1 AND NOT compensation) c
                 WHERE (c.created_at, c.credit_id) < ($2, $3)
                 ORDER BY c.created_at DESC, c.credit_id DESC LIMIT $4"#,
                account,
                cursor.created_at,
                cursor.credit_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
        CreditFilter::Incident(incident) => {
            sqlx::query_as!(
                CreditRow,
        "SELECT c.credit_id, c.account_id, c.kind, c.value_minor_units, c.currency, \
                     c.duration_days, c.reason, c.incident_id, c.compensation, c.idempotency_key, \
                     c.voids_credit_id, \
                     (SELECT v.credit_id FROM credits v WHERE v.voids_credit_id = c.credit_id) \
                         AS voided_by_credit_id, \
                     c.tier_after, c.created_at \
                 FROM credits c WHERE c.incident_id = $1 AND (c.created_at, c.credit_id) < ($2, $3) \
                 ORDER BY c.created_at DESC, c.credit_id DESC LIMIT $4",
                incident,
                cursor.created_at,
                cursor.credit_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
        CreditFilter::AccountAndIncident(account, incident) => {
            sqlx::query_as!(
                CreditRow,
        r#"SELECT c.credit_id AS "credit_id!", c.account_id AS "account_id!", c.kind AS "kind!",
                     c.value_minor_units AS "value_minor_units!", c.currency AS "currency!",
                     c.duration_days AS "duration_days!", c.reason AS "reason!", c.incident_id,
                     c.compensation AS "compensation!", c.idempotency_key, c.voids_credit_id,
                     (SELECT v.credit_id FROM credits v WHERE v.voids_credit_id = c.credit_id)
                         AS voided_by_credit_id,
                     c.tier_after AS "tier_after!", c.created_at AS "created_at!"
                 FROM (SELECT * FROM credits WHERE account_id = $1 AND compensation
                       UNION ALL SELECT * FROM credits WHERE account_id = $1 AND NOT compensation) c
                 WHERE c.incident_id = $2 AND (c.created_at, c.credit_id) < ($3, $4)
                 ORDER BY c.created_at DESC, c.credit_id DESC LIMIT $5"#,
                account,
                incident,
                cursor.created_at,
                cursor.credit_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    }
}
