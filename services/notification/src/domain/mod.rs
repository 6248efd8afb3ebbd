//! Rules with no I/O: what the RPCs accept.

pub mod validation;
