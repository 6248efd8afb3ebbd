//! Whether the SMTP server can be reached, reported as a gRPC health
//! service name of its own, [`SENDING_HEALTH_SERVICE`]: NOT_SERVING while
//! no connection to the SMTP server can be opened, SERVING once one can.
//! The service's other names (and the whole server, `""`) stay SERVING, so
//! the API keeps answering and an orchestrator does not restart a replica
//! for an outage it cannot fix.
//!
//! Two sources report: the sender's own connections ([`super::SmtpPool`]
//! opening one, or failing to) and a probe that opens a connection and sends
//! NOOP every `SMTP_PROBE_INTERVAL_SECONDS`, so an idle service notices an
//! outage, and a recovery while every notice waits for its retry.

use std::time::Duration;

use lettre::transport::smtp::extension::ClientId;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::settings::SmtpSettings;
use super::stream;

/// The health service name that reflects the SMTP server.
pub const SENDING_HEALTH_SERVICE: &str = "candor.notification.v1.NotificationService.Sending";

/// What is known of the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachability {
    /// Nothing tried yet.
    Unknown,
    /// The last connection attempt succeeded.
    Reachable,
    /// The last connection attempt failed, for this reason (the first
    /// reason of the outage; never a credential).
    Unreachable(String),
}

/// The shared, latest [`Reachability`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct SmtpReachability {
    state: watch::Sender<Reachability>,
}

impl Default for SmtpReachability {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(Reachability::Unknown),
        }
    }
}

impl SmtpReachability {
    /// A connection was opened.
    pub fn reachable(&self) {
        self.state.send_if_modified(|state| {
            let changed = *state != Reachability::Reachable;
            *state = Reachability::Reachable;
            changed
        });
    }

    /// A connection could not be opened, because of `reason`. The reason
    /// of an outage already known is kept: a change is a change of state.
    pub fn unreachable(&self, reason: &str) {
        self.state.send_if_modified(|state| {
            if matches!(state, Reachability::Unreachable(_)) {
                return false;
            }
            *state = Reachability::Unreachable(reason.to_owned());
            true
        });
    }

    /// The latest state.
    pub fn current(&self) -> Reachability {
        self.state.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<Reachability> {
        self.state.subscribe()
    }
}

/// Probes the SMTP server and mirrors what is known of it into the health
/// service until stopped; then reports NOT_SERVING, as the server's own
/// names do at shutdown.
pub async fn report_sending_health(
    reachability: SmtpReachability,
    settings: SmtpSettings,
    timeout: Duration,
    probe_interval: Duration,
    reporter: HealthReporter,
    stop: CancellationToken,
) {
    reporter
        .set_service_status(SENDING_HEALTH_SERVICE, ServingStatus::Unknown)
        .await;
    let mut changes = reachability.subscribe();
    let hello = ClientId::default();
    let mut next_probe = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(next_probe) => {
                let probed = tokio::select! {
                    probed = probe(&settings, &hello, timeout) => probed,
                    () = stop.cancelled() => break,
                };
                match probed {
                    Ok(()) => reachability.reachable(),
                    Err(reason) => reachability.unreachable(&reason),
                }
                next_probe = tokio::time::Instant::now() + probe_interval;
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                let state = changes.borrow_and_update().clone();
                reflect(&reporter, &state).await;
            }
        }
    }
    reporter
        .set_service_status(SENDING_HEALTH_SERVICE, ServingStatus::NotServing)
        .await;
}

/// Sets the health of [`SENDING_HEALTH_SERVICE`] and says why, once per
/// change.
async fn reflect(reporter: &HealthReporter, state: &Reachability) {
    match state {
        Reachability::Unknown => {}
        Reachability::Reachable => {
            tracing::info!(
                health_service = SENDING_HEALTH_SERVICE,
                "smtp server reachable, sending health is SERVING"
            );
            reporter
                .set_service_status(SENDING_HEALTH_SERVICE, ServingStatus::Serving)
                .await;
        }
        Reachability::Unreachable(reason) => {
            tracing::warn!(
                health_service = SENDING_HEALTH_SERVICE,
                reason = %reason,
                "smtp server unreachable, sending health is NOT_SERVING until it answers again"
            );
            reporter
                .set_service_status(SENDING_HEALTH_SERVICE, ServingStatus::NotServing)
                .await;
        }
    }
}

/// Opens a connection as the sender would (TLS and AUTH included), checks
/// it with NOOP and closes it.
async fn probe(settings: &SmtpSettings, hello: &ClientId, timeout: Duration) -> Result<(), String> {
    let mut connection = stream::open(settings, hello, timeout).await?;
    let answered = tokio::time::timeout(timeout, connection.test_connected())
        .await
        .unwrap_or(false);
    let _ = tokio::time::timeout(timeout, connection.quit()).await;
    if answered {
        Ok(())
    } else {
        Err("the SMTP server did not answer NOOP".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_a_change_of_state_not_of_reason() {
        let reachability = SmtpReachability::default();
        let mut changes = reachability.subscribe();
        reachability.unreachable("connection refused");
        assert!(changes.has_changed().unwrap());
        changes.borrow_and_update();
        reachability.unreachable("timed out");
        assert!(!changes.has_changed().unwrap());
        assert_eq!(
            reachability.current(),
            Reachability::Unreachable("connection refused".to_owned())
        );
        reachability.reachable();
        assert!(changes.has_changed().unwrap());
        changes.borrow_and_update();
        reachability.reachable();
        assert!(!changes.has_changed().unwrap());
    }
}
