//! SMTP delivery: a small pool of connections opened with `TCP_NODELAY`.
//!
//! lettre 0.11.23's own pooled transport leaves Nagle's algorithm on and
//! writes the final `.` of DATA separately, so each message stalls about
//! 40 ms on a connection. Here every connection is opened on our own tokio
//! `TcpStream` with `set_nodelay(true)` and handed to lettre with
//! `AsyncSmtpConnection::connect_with_transport`; this module is the one place
//! that makes that choice. Under lettre each connection also holds what is
//! written until the reply is read ([`coalescing`]), so a message's content
//! and its closing `.` leave in one segment. [`health`] turns what the
//! connections (and a periodic probe) find of the server into the health
//! service name [`SENDING_HEALTH_SERVICE`].

mod coalescing;
mod health;
mod pool;
mod settings;
mod stream;

pub use health::{Reachability, SENDING_HEALTH_SERVICE, SmtpReachability, report_sending_health};
pub use pool::{SmtpError, SmtpPool};
pub use settings::{SmtpSettings, TlsMode};
