//! The account queue, one file per routing key: the service consumes only
//! `breach.reported` ([`breach_reported`]).

pub mod breach_reported;

pub use breach_reported::BreachIntake;
