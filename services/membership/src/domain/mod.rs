//! The membership model without storage: tiers, ledger entries and how an
//! account's state follows from its ledger.

pub mod ledger;
pub mod validation;
