pub mod accounts;
pub mod breach;
pub mod config;
pub mod dead_letters;
pub mod dev_certs;
pub mod dev_secrets;
pub mod health;
pub mod incident;
pub mod send_test;

/// The checked thing is not healthy or not complete.
pub const EXIT_NOT_OK: u8 = 1;
/// A service or RabbitMQ could not be reached.
pub const EXIT_UNREACHABLE: u8 = 2;
/// The command line was wrong.
pub const EXIT_USAGE: u8 = 64;
/// The input (a notice, a CSV file) is not valid (`EX_DATAERR`).
pub const EXIT_INVALID_INPUT: u8 = 65;
/// Published, but not every service confirmed it in time (`EX_TEMPFAIL`).
pub const EXIT_NOT_CONFIRMED_IN_TIME: u8 = 75;
/// The operator's credential was missing or refused (`EX_NOPERM`).
pub const EXIT_NOT_AUTHORIZED: u8 = 77;
