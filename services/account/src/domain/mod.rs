//! The account service's rules with no I/O: field rules and bearer tokens.
//! (Password hashing and policy, which need a thread pool and an HTTP
//! client, are in `password/`.)

pub mod tokens;
pub mod validation;
