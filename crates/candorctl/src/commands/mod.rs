pub mod health;

/// The checked thing is not healthy or not complete.
pub const EXIT_NOT_OK: u8 = 1;
/// A service could not be reached.
pub const EXIT_UNREACHABLE: u8 = 2;
/// The command line was wrong.
pub const EXIT_USAGE: u8 = 64;
