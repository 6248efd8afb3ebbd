//! How a membership follows from its ledger.
//!
//! The stored `memberships` row is a cache of [`MembershipState::replay`]
//! over the account's entries: every writer keeps it equal to the replay in
//! the same transaction as the entry (the breach batch does it in SQL, see
//! `store::compensation`), a VOID recomputes it by replaying, and the tests
//! check the two agree.

use std::collections::BTreeMap;

use candor_proto::membership::v1::{CreditKind, Tier};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// One ledger entry as far as the state is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub credit_id: Uuid,
    pub kind: CreditKind,
    pub value_minor_units: i64,
    pub currency: String,
    pub duration_days: i32,
    pub voids_credit_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// An account's tier and balances as stored (a PAID tier stays PAID past
/// `paid_until`; [`MembershipState::effective`] reads it as FREE then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipState {
    pub tier: Tier,
    pub tier_since: Option<DateTime<Utc>>,
    pub paid_until: Option<DateTime<Utc>>,
    /// Balance per currency; zero balances are kept out.
    pub balances: BTreeMap<String, i64>,
}

/// The tier a reader sees at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveTier {
    pub tier: Tier,
    pub tier_since: Option<DateTime<Utc>>,
    pub paid_until: Option<DateTime<Utc>>,
}

impl Default for MembershipState {
    fn default() -> Self {
        Self::free()
    }
}

impl MembershipState {
    /// The state of an account with an empty ledger.
    pub fn free() -> Self {
        Self {
            tier: Tier::Free,
            tier_since: None,
            paid_until: None,
            balances: BTreeMap::new(),
        }
    }

    /// The state after `entries` (any order; they are sorted by
    /// `(created_at, credit_id)`). Voided entries and the VOIDs themselves
    /// are left out: a void reverses its entry as if it never happened.
    pub fn replay(entries: &[LedgerEntry]) -> Self {
        let voided: std::collections::HashSet<Uuid> = entries
            .iter()
            .filter_map(|entry| entry.voids_credit_id)
            .collect();
        let mut ordered: Vec<&LedgerEntry> = entries
            .iter()
            .filter(|entry| entry.kind != CreditKind::Void && !voided.contains(&entry.credit_id))
            .collect();
        ordered.sort_by_key(|entry| (entry.created_at, entry.credit_id));
        let mut state = Self::free();
        for entry in ordered {
            state.apply(entry);
        }
        state
    }

    /// Applies one non-VOID entry at its `created_at`.
    ///
    /// - LIFETIME_MEMBERSHIP: LIFETIME from now on (unchanged if already).
    /// - PAID_MEMBERSHIP: nothing for a LIFETIME account; extends a running
    ///   paid period; otherwise PAID from now for `duration_days`.
    /// - ACCOUNT_CREDIT: adds to the balance of its currency.
    /// - LIFETIME_ALREADY_HELD, VOID: no change here.
    pub fn apply(&mut self, entry: &LedgerEntry) {
        let at = entry.created_at;
        match entry.kind {
            CreditKind::LifetimeMembership => {
                if self.tier != Tier::Lifetime {
                    self.tier = Tier::Lifetime;
                    self.tier_since = Some(at);
                    self.paid_until = None;
                }
            }
            CreditKind::PaidMembership => {
                if self.tier == Tier::Lifetime {
                    return;
                }
                let days = Duration::hours(24 * i64::from(entry.duration_days));
                match self.paid_until {
                    Some(until) if self.tier == Tier::Paid && until > at => {
                        self.paid_until = Some(until + days);
                    }
                    _ => {
                        self.tier = Tier::Paid;
                        self.tier_since = Some(at);
                        self.paid_until = Some(at + days);
                    }
                }
            }
            CreditKind::AccountCredit => {
                let balance = self.balances.entry(entry.currency.clone()).or_insert(0);
                *balance = balance.saturating_add(entry.value_minor_units);
                if *balance == 0 {
                    self.balances.remove(&entry.currency);
                }
            }
            CreditKind::LifetimeAlreadyHeld | CreditKind::Void | CreditKind::Unspecified => {}
        }
    }

    /// The tier as seen at `now`: a PAID period that ended reads as FREE
    /// since its end.
    pub fn effective(&self, now: DateTime<Utc>) -> EffectiveTier {
        effective_tier(self.tier, self.tier_since, self.paid_until, now)
    }
}

/// [`MembershipState::effective`] for a stored row.
pub fn effective_tier(
    tier: Tier,
    tier_since: Option<DateTime<Utc>>,
    paid_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> EffectiveTier {
    match (tier, paid_until) {
        (Tier::Paid, Some(until)) if until <= now => EffectiveTier {
            tier: Tier::Free,
            tier_since: Some(until),
            paid_until: None,
        },
        (Tier::Paid, _) => EffectiveTier {
            tier,
            tier_since,
            paid_until,
        },
        _ => EffectiveTier {
            tier,
            tier_since,
            paid_until: None,
        },
    }
}

/// The tier stored as its protobuf number; unknown numbers read as FREE.
pub fn tier_from_db(value: i16) -> Tier {
    Tier::try_from(i32::from(value)).unwrap_or(Tier::Free)
}

/// A ledger kind stored as its protobuf number.
pub fn kind_from_db(value: i16) -> CreditKind {
    CreditKind::try_from(i32::from(value)).unwrap_or(CreditKind::Unspecified)
}

/// The protobuf number of a tier or kind, as stored.
pub fn to_db(value: i32) -> i16 {
    i16::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn entry(kind: CreditKind, day: u32) -> LedgerEntry {
        LedgerEntry {
            credit_id: Uuid::now_v7(),
            kind,
            value_minor_units: 100,
            currency: "USD".to_owned(),
            duration_days: 10,
            voids_credit_id: None,
            created_at: at(day),
        }
    }

    #[test]
    fn paid_extends_a_running_period_and_lifetime_supersedes_it() {
        let paid = entry(CreditKind::PaidMembership, 1);
        let more = entry(CreditKind::PaidMembership, 5);
        let state = MembershipState::replay(&[paid.clone(), more.clone()]);
        assert_eq!(state.tier, Tier::Paid);
        assert_eq!(state.tier_since, Some(at(1)));
        assert_eq!(state.paid_until, Some(at(21)));

        let lifetime = entry(CreditKind::LifetimeMembership, 7);
        let state = MembershipState::replay(&[paid, more, lifetime]);
        assert_eq!(state.tier, Tier::Lifetime);
        assert_eq!(state.tier_since, Some(at(7)));
        assert_eq!(state.paid_until, None);
    }

    #[test]
    fn a_void_removes_its_entry_from_the_replay() {
        let credit = entry(CreditKind::AccountCredit, 1);
        let lifetime = entry(CreditKind::LifetimeMembership, 2);
        let mut void = entry(CreditKind::Void, 3);
        void.voids_credit_id = Some(lifetime.credit_id);
        let state = MembershipState::replay(&[credit, lifetime, void]);
        assert_eq!(state.tier, Tier::Free);
        assert_eq!(state.balances.get("USD"), Some(&100));
    }

    #[test]
    fn an_ended_paid_period_reads_as_free_since_its_end() {
        let state = MembershipState::replay(&[entry(CreditKind::PaidMembership, 1)]);
        let seen = state.effective(at(20));
        assert_eq!(seen.tier, Tier::Free);
        assert_eq!(seen.tier_since, Some(at(11)));
        assert_eq!(state.effective(at(2)).tier, Tier::Paid);
    }
}
