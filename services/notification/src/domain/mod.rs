//! Rules with no I/O: what the RPCs accept, and the organisation the emails
//! speak for.

pub mod organisation;
pub mod reports;
pub mod validation;
