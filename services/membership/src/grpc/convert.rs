//! Stored rows to contract messages.

use candor_proto::membership::v1::{Credit, CreditKind, Membership, Money, Tier};
use chrono::{DateTime, Utc};

use crate::domain::ledger::{kind_from_db, tier_from_db};
use crate::domain::validation::compensation_key;
use crate::store::credits::CreditRow;
use crate::store::memberships::StoredMembership;

pub use candor_platform::time::timestamp;

/// The membership as seen at `now` (a PAID period that ended reads FREE).
pub fn membership(stored: &StoredMembership, now: DateTime<Utc>) -> Membership {
    let seen = stored.state.effective(now);
    Membership {
        account_id: stored.account_id.to_string(),
        tier: seen.tier as i32,
        tier_since: seen.tier_since.map(timestamp),
        paid_until: seen.paid_until.map(timestamp),
        balances: stored
            .state
            .balances
            .iter()
            .filter(|(_, balance)| **balance != 0)
            .map(|(currency, balance)| Money {
                value_minor_units: *balance,
                currency: currency.clone(),
            })
            .collect(),
        closed: stored.closed_at.is_some(),
        closed_at: stored.closed_at.map(timestamp),
    }
}

pub fn credit(row: &CreditRow) -> Credit {
    let incident_id = row.incident_id.clone().unwrap_or_default();
    let idempotency_key = match (&row.idempotency_key, row.compensation) {
        (Some(key), _) => key.clone(),
        (None, _) => compensation_key(&incident_id, row.account_id),
    };
    let kind: CreditKind = kind_from_db(row.kind);
    let tier_after: Tier = tier_from_db(row.tier_after);
    Credit {
        credit_id: row.credit_id.to_string(),
        account_id: row.account_id.to_string(),
        kind: kind as i32,
        value: Some(Money {
            value_minor_units: row.value_minor_units,
            currency: row.currency.clone(),
        }),
        duration_days: u32::try_from(row.duration_days).unwrap_or(0),
        reason: row.reason.clone(),
        incident_id,
        idempotency_key,
        voids_credit_id: row
            .voids_credit_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        voided_by_credit_id: row
            .voided_by_credit_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        tier_after: tier_after as i32,
        created_at: Some(timestamp(row.created_at)),
    }
}
