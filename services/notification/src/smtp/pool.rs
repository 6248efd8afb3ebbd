//! A small pool of SMTP connections: at most `size` transactions at once,
//! idle connections reused, a broken or old one dropped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use candor_platform::sync::lock;
use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Semaphore;

use super::health::SmtpReachability;
use super::settings::SmtpSettings;
use super::stream;
use candor_platform::metrics::GaugeGuard;

use crate::metrics::{SmtpMetrics, SmtpOutcome};

/// An idle connection older than this is closed rather than reused, so a
/// server's idle timeout does not turn into a failed (and retried) send.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Why the server did not accept a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// A 5xx reply (or a message the client cannot send at all): retrying
    /// will not help. The text is the server's reply.
    #[error("{0}")]
    Permanent(String),
    /// A 4xx reply, a refused or lost connection, a timeout: retry later.
    #[error("{0}")]
    Transient(String),
}

impl SmtpError {
    /// Whether the server itself refused the recipient or message (5xx),
    /// as opposed to the client being unable to send it.
    pub fn is_reply(&self) -> bool {
        matches!(self, Self::Permanent(text) if text.starts_with("permanent error"))
    }
}

/// A connection of the pool, counted in `candor_smtp_connections` until
/// dropped.
struct Connection {
    smtp: AsyncSmtpConnection,
    _open: GaugeGuard,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

/// Connections to one SMTP server, opened with `TCP_NODELAY`.
pub struct SmtpPool {
    settings: SmtpSettings,
    hello: ClientId,
    timeout: Duration,
    slots: Semaphore,
    idle: Mutex<Vec<Idle>>,
    /// Told whether each new connection could be opened.
    reachability: SmtpReachability,
    /// Open connections and transactions.
    metrics: SmtpMetrics,
}

impl SmtpPool {
    /// A pool of at most `size` connections, each command bounded by `timeout`.
    pub fn new(
        settings: SmtpSettings,
        size: usize,
        timeout: Duration,
        metrics: SmtpMetrics,
    ) -> Self {
        Self {
            settings,
            hello: ClientId::default(),
            timeout,
            slots: Semaphore::new(size.max(1)),
            idle: Mutex::new(Vec::new()),
            reachability: SmtpReachability::default(),
            metrics,
        }
    }

    /// What the pool's connections (and the health probe) found of the
    /// server.
    pub fn reachability(&self) -> SmtpReachability {
        self.reachability.clone()
    }

    /// Sends one message (already formatted, RFC 5322) in one SMTP
    /// transaction and returns once the server accepted it.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SmtpError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| SmtpError::Transient("the SMTP pool is closed".to_owned()))?;
        let started = Instant::now();
        let mut connection = match self.take_idle() {
            Some(connection) => connection,
            None => match stream::open(&self.settings, &self.hello, self.timeout).await {
                Ok(smtp) => {
                    self.reachability.reachable();
                    Connection {
                        smtp,
                        _open: self.metrics.connection_opened(),
                    }
                }
                Err(error) => {
                    self.reachability.unreachable(&error);
                    self.metrics.transaction(SmtpOutcome::Failed, started);
                    return Err(SmtpError::Transient(error));
                }
            },
        };
        let sent =
            tokio::time::timeout(self.timeout, connection.smtp.send(envelope, message)).await;
        match sent {
            Ok(Ok(_response)) => {
                self.metrics.transaction(SmtpOutcome::Accepted, started);
                self.put_idle(connection);
                Ok(())
            }
            Ok(Err(error)) => {
                let outcome = if error.is_permanent() || error.is_transient() {
                    SmtpOutcome::Rejected
                } else {
                    SmtpOutcome::Failed
                };
                self.metrics.transaction(outcome, started);
                // lettre aborts (QUITs and closes) the connection on any error.
                if error.is_permanent() || error.is_client() {
                    Err(SmtpError::Permanent(one_line(&error.to_string())))
                } else {
                    Err(SmtpError::Transient(one_line(&error.to_string())))
                }
            }
            Err(_) => {
                self.metrics.transaction(SmtpOutcome::Failed, started);
                Err(SmtpError::Transient(format!(
                    "the SMTP transaction timed out after {:?}",
                    self.timeout
                )))
            }
        }
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = lock(&self.idle);
        while let Some(entry) = idle.pop() {
            if entry.since.elapsed() < MAX_IDLE && !entry.connection.smtp.has_broken() {
                return Some(entry.connection);
            }
        }
        None
    }

    fn put_idle(&self, connection: Connection) {
        if connection.smtp.has_broken() {
            return;
        }
        lock(&self.idle).push(Idle {
            connection,
            since: Instant::now(),
        });
    }
}

fn one_line(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(1000).collect()
}
