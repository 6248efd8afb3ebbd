//! The `memberships` and `membership_balances` tables: the current state,
//! kept equal to the replay of the ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ledger::{MembershipState, tier_from_db, to_db};

/// A stored membership with its balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMembership {
    pub account_id: Uuid,
    pub state: MembershipState,
    pub closed_at: Option<DateTime<Utc>>,
}

impl StoredMembership {
    /// An account never heard of: FREE and open.
    pub fn unknown(account_id: Uuid) -> Self {
        Self {
            account_id,
            state: MembershipState::free(),
            closed_at: None,
        }
    }
}

struct MembershipRow {
    tier: i16,
    tier_since: Option<DateTime<Utc>>,
    paid_until: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

/// The membership of `account_id` (FREE and open when it has no row).
pub async fn get(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<StoredMembership> {
    let row = sqlx::query_as!(
        MembershipRow,
        "SELECT tier, tier_since, paid_until, closed_at FROM memberships WHERE account_id = $1",
        account_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    finish(conn, account_id, row).await
}

/// Like [`get`], but creates the row if missing and locks it until the end
/// of the transaction, so the caller's decision cannot go stale.
pub async fn lock(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<StoredMembership> {
    sqlx::query!(
        "INSERT INTO memberships (account_id, tier) VALUES ($1, 1) \
         ON CONFLICT (account_id) DO NOTHING",
        account_id,
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query_as!(
        MembershipRow,
        "SELECT tier, tier_since, paid_until, closed_at FROM memberships \
         WHERE account_id = $1 FOR UPDATE",
        account_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    finish(conn, account_id, row).await
}

async fn finish(
    conn: &mut PgConnection,
    account_id: Uuid,
    row: Option<MembershipRow>,
) -> sqlx::Result<StoredMembership> {
    let Some(row) = row else {
        return Ok(StoredMembership::unknown(account_id));
    };
    let balances = sqlx::query!(
        "SELECT currency, balance FROM membership_balances \
         WHERE account_id = $1 AND balance <> 0 ORDER BY currency",
        account_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(StoredMembership {
        account_id,
        state: MembershipState {
            tier: tier_from_db(row.tier),
            tier_since: row.tier_since,
            paid_until: row.paid_until,
            balances: balances
                .into_iter()
                .map(|row| (row.currency, row.balance))
                .collect::<BTreeMap<_, _>>(),
        },
        closed_at: row.closed_at,
    })
}

/// Writes `state` as the account's current state (the row must exist:
/// [`lock`] first). Balances are replaced.
pub async fn write_state(
    conn: &mut PgConnection,
    account_id: Uuid,
    state: &MembershipState,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE memberships SET tier = $2, tier_since = $3, paid_until = $4 \
         WHERE account_id = $1",
        account_id,
        to_db(state.tier as i32),
        state.tier_since,
        state.paid_until,
    )
    .execute(&mut *conn)
    .await?;
    let currencies: Vec<String> = state.balances.keys().cloned().collect();
    let amounts: Vec<i64> = state.balances.values().copied().collect();
    sqlx::query!(
        "WITH wanted AS (SELECT * FROM UNNEST($2::text[], $3::bigint[]) AS t(currency, balance)), \
         removed AS ( \
             DELETE FROM membership_balances b WHERE b.account_id = $1 \
             AND b.currency <> ALL($2::text[])) \
         INSERT INTO membership_balances (account_id, currency, balance) \
         SELECT $1, currency, balance FROM wanted \
         ON CONFLICT (account_id, currency) DO UPDATE SET balance = EXCLUDED.balance",
        account_id,
        &currencies[..],
        &amounts[..],
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes the membership for new credits (idempotent: the first closing
/// time stays). Returns whether it was open before.
pub async fn close(
    conn: &mut PgConnection,
    account_id: Uuid,
    closed_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let closed = sqlx::query_scalar!(
        "INSERT INTO memberships (account_id, tier, closed_at) VALUES ($1, 1, $2) \
         ON CONFLICT (account_id) DO UPDATE SET closed_at = EXCLUDED.closed_at \
         WHERE memberships.closed_at IS NULL \
         RETURNING account_id",
        account_id,
        closed_at,
    )
    .fetch_optional(conn)
    .await?;
    Ok(closed.is_some())
}
