//! The account service's rules: field rules and bearer tokens (no I/O), and
//! the steps several RPCs share (opening a session, replacing a password),
//! which work in the caller's transaction. (Password hashing and policy,
//! which need a thread pool and an HTTP client, are in `password/`.)

pub mod password_change;
pub mod sessions;
pub mod tokens;
pub mod validation;
