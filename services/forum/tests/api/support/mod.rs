//! Test helpers: the in-test account service double and a running forum.

pub mod accounts;
pub mod breach;
pub mod forum;
