//! Breach compensation of one `AccountsAffected` batch: one statement, set
//! based, in the caller's transaction.
//!
//! The statement reads the incident's compensation, creates the membership
//! rows of accounts it never saw (already with their new tier: an unknown
//! account is FREE and open, so its outcome is known), locks the other
//! accounts' rows (in account order, so concurrent batches do not
//! deadlock), decides per account, appends the ledger entries with
//! `ON CONFLICT (account_id, incident_id) DO NOTHING` (the exactly-once
//! guarantee), moves the tiers or balances of exactly the entries written,
//! and records the batch with its counts. Nothing happens when the incident
//! is not reported yet; the caller then parks the batch (candor-platform's
//! incident parking).
//!
//! Decisions (protobuf numbers of `CompensationKind` / `CreditKind`):
//! - membership closed, or compensation NONE: skipped, no entry;
//! - LIFETIME or PAID compensation for a LIFETIME account:
//!   `LIFETIME_ALREADY_HELD` with value 0 in the compensation's currency;
//! - otherwise the matching entry (LIFETIME_MEMBERSHIP, PAID_MEMBERSHIP or
//!   ACCOUNT_CREDIT) with the compensation's value.

use anyhow::{Context, bail};
use sqlx::PgConnection;
use uuid::Uuid;

/// What applying a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// `breach.reported` for the incident is not recorded: nothing written.
    IncidentUnknown,
    /// This batch was applied before: the caller must roll back (nothing
    /// new was written, but the transaction may hold row locks).
    Duplicate,
    /// Applied; the counts of this batch.
    Applied {
        credited: i64,
        already_lifetime: i64,
        skipped: i64,
    },
}

/// The one row [`apply_batch`]'s statement returns.
struct ApplyRow {
    incident_known: bool,
    unseen: i64,
    new_without_entry: i64,
    credited: Option<i64>,
    already_lifetime: Option<i64>,
    skipped: Option<i64>,
}

/// Applies one batch. `account_ids` must be distinct; `credit_ids` are the
/// ids of the entries to write, one per account, same order. An error
/// leaves the transaction unusable: roll it back and retry.
pub async fn apply_batch(
    conn: &mut PgConnection,
    incident_id: &str,
    batch_sequence: i32,
    account_ids: &[Uuid],
    credit_ids: &[Uuid],
    reason: &str,
) -> anyhow::Result<BatchOutcome> {
    // The counts and EXISTS are never NULL, which the macro cannot tell
    // from an expression; the batch's counts are NULL for a duplicate.
    let row = sqlx::query_as!(
        ApplyRow,
        r#"
        WITH incident AS (
            SELECT compensation_kind AS kind, compensation_value AS value,
                   compensation_currency AS currency, compensation_duration_days AS days
            FROM incidents
            WHERE incident_id = $1 AND reported_at IS NOT NULL
        ),
        input AS (
            SELECT t.account_id, t.credit_id
            FROM UNNEST($3::uuid[], $4::uuid[]) AS t(account_id, credit_id)
            WHERE EXISTS (SELECT 1 FROM incident)
        ),
        created AS (
            INSERT INTO memberships (account_id, tier, tier_since, paid_until)
            SELECT i.account_id,
                CASE c.kind WHEN 2 THEN 3 WHEN 3 THEN 2 ELSE 1 END,
                CASE WHEN c.kind IN (2, 3) THEN statement_timestamp() END,
                CASE WHEN c.kind = 3 THEN statement_timestamp() + c.days * interval '24 hours' END
            FROM input i
            CROSS JOIN incident c
            WHERE c.kind <> 1
            ON CONFLICT (account_id) DO NOTHING
            RETURNING account_id
        ),
        existing AS (
            SELECT m.account_id, m.tier, m.paid_until, m.closed_at
            FROM memberships m
            WHERE m.account_id = ANY (ARRAY(
                SELECT account_id FROM input EXCEPT ALL SELECT account_id FROM created))
            ORDER BY m.account_id
            FOR UPDATE
        ),
        decided AS (
            SELECT i.account_id, i.credit_id,
                n.account_id IS NOT NULL AS is_new,
                e.account_id IS NOT NULL AS is_existing,
                CASE
                    WHEN e.closed_at IS NOT NULL OR c.kind = 1 THEN 0
                    WHEN c.kind IN (2, 3) AND e.tier = 3 THEN 5
                    WHEN c.kind = 2 THEN 1
                    WHEN c.kind = 3 THEN 2
                    ELSE 3
                END AS credit_kind,
                CASE
                    WHEN e.tier IS NULL THEN 1
                    WHEN e.tier = 2 AND e.paid_until <= statement_timestamp() THEN 1
                    ELSE e.tier
                END AS tier_now
            FROM input i
            CROSS JOIN incident c
            LEFT JOIN created n ON n.account_id = i.account_id
            LEFT JOIN existing e ON e.account_id = i.account_id
        ),
        ledger AS (
            INSERT INTO credits (credit_id, account_id, kind, value_minor_units, currency,
                duration_days, reason, incident_id, compensation, tier_after, created_at)
            SELECT d.credit_id, d.account_id, d.credit_kind,
                CASE WHEN d.credit_kind = 5 THEN 0 ELSE c.value END,
                c.currency,
                CASE WHEN d.credit_kind = 2 THEN c.days ELSE 0 END,
                $5, $1, true,
                CASE d.credit_kind WHEN 1 THEN 3 WHEN 5 THEN 3 WHEN 2 THEN 2 ELSE d.tier_now END,
                statement_timestamp()
            FROM decided d
            CROSS JOIN incident c
            WHERE d.credit_kind <> 0
            ON CONFLICT (account_id, incident_id) WHERE compensation DO NOTHING
            RETURNING account_id, kind
        ),
        upgraded AS (
            UPDATE memberships m SET
                tier = CASE l.kind WHEN 1 THEN 3 ELSE 2 END,
                tier_since = CASE
                    WHEN l.kind = 2 AND m.tier = 2 AND m.paid_until > statement_timestamp()
                        THEN m.tier_since
                    ELSE statement_timestamp()
                END,
                paid_until = CASE
                    WHEN l.kind = 1 THEN NULL
                    ELSE GREATEST(m.paid_until, statement_timestamp()) + c.days * interval '24 hours'
                END
            FROM ledger l
            JOIN existing e ON e.account_id = l.account_id
            CROSS JOIN incident c
            WHERE m.account_id = l.account_id AND l.kind IN (1, 2)
            RETURNING m.account_id
        ),
        funded AS (
            INSERT INTO membership_balances (account_id, currency, balance)
            SELECT l.account_id, c.currency, c.value
            FROM ledger l
            CROSS JOIN incident c
            WHERE l.kind = 3
            ON CONFLICT (account_id, currency)
                DO UPDATE SET balance = membership_balances.balance + EXCLUDED.balance
            RETURNING account_id
        ),
        batch AS (
            INSERT INTO incident_batches (incident_id, batch_sequence, accounts, credited,
                already_lifetime, skipped, processed_at)
            SELECT $1, $2, cardinality($3::uuid[]),
                (SELECT count(*) FROM ledger WHERE kind IN (1, 2, 3)),
                (SELECT count(*) FROM ledger WHERE kind = 5),
                (SELECT count(*) FROM decided WHERE credit_kind = 0),
                statement_timestamp()
            FROM incident
            ON CONFLICT (incident_id, batch_sequence) DO NOTHING
            RETURNING credited, already_lifetime, skipped
        )
        SELECT
            EXISTS (SELECT 1 FROM incident) AS "incident_known!",
            (SELECT count(*) FROM decided d CROSS JOIN incident c
                WHERE c.kind <> 1 AND NOT d.is_new AND NOT d.is_existing) AS "unseen!",
            (SELECT count(*) FROM decided WHERE is_new)
                - (SELECT count(*) FROM ledger l JOIN decided d ON d.account_id = l.account_id
                    WHERE d.is_new) AS "new_without_entry!",
            b.credited::bigint AS credited,
            b.already_lifetime::bigint AS already_lifetime,
            b.skipped::bigint AS skipped
        FROM (SELECT 1) AS one
        LEFT JOIN batch b ON true
        "#,
        incident_id,
        batch_sequence,
        account_ids,
        credit_ids,
        reason,
    )
    .fetch_one(conn)
    .await
    .context("applying the compensation batch")?;
    if !row.incident_known {
        return Ok(BatchOutcome::IncidentUnknown);
    }
    if row.unseen != 0 || row.new_without_entry != 0 {
        // A membership of this batch was created by another transaction
        // after this statement's snapshot (or a new row got no entry): the
        // decisions may be stale. Roll back and retry.
        bail!(
            "memberships of this batch changed concurrently ({} unseen, {} new without entry)",
            row.unseen,
            row.new_without_entry
        );
    }
    match (row.credited, row.already_lifetime, row.skipped) {
        (Some(credited), Some(already_lifetime), Some(skipped)) => Ok(BatchOutcome::Applied {
            credited,
            already_lifetime,
            skipped,
        }),
        _ => Ok(BatchOutcome::Duplicate),
    }
}
