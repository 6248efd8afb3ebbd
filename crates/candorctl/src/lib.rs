//! `candorctl`'s commands as a library, so the end-to-end suite drives
//! Candor through exactly the code path an operator uses.

pub mod commands;
pub mod config_file;
pub mod endpoints;
pub mod errors;
pub mod notice;
pub mod output;
mod timefmt;
