//! Incident parking: a message about an incident the service has not
//! recorded yet (an `AccountsAffected` batch that overtook its
//! `breach.reported`) is parked, as it arrived, in `candor_parked_messages`
//! and later applied through the service's own [`MessageHandler`], as if
//! it were delivered again. One mechanism for every service, as there is one
//! outbox.
//!
//! The race between a batch and its incident is closed by one lock per
//! incident ([`lock_incident`]): the handler recording the incident and a
//! handler deciding to park both take it, so a parked message is always seen
//! by the drain that follows the incident's recording.
//!
//! - [`park`] keeps a message, in the caller's transaction, under the
//!   incident's lock. A redelivery (same `dedup_key`) is parked once.
//! - [`IncidentParking::drain`] applies an incident's parked messages after
//!   the incident is recorded (call it after that transaction committed):
//!   claims of at most `drain_batch` rows, each message applied by the
//!   handler in its own transaction and removed once applied. Nothing runs
//!   inside the recording transaction, however many batches were parked.
//! - [`IncidentParking::sweeper`] is a background task: at start and every
//!   `sweep_interval` it drains incidents that are recorded by now (a drain
//!   that failed or a crash between recording and draining) and expires
//!   messages whose incident never came.
//!
//! Expiry dead-letters instead of deleting: a message parked longer than
//! `PARKED_MESSAGE_TTL_SECONDS` for an incident still unknown goes to the
//! service's dead-letter queue with the reason in `x-candor-error`, as any
//! message the service gave up on. Operators already watch that queue, the
//! queue's depth counts them, and the message can be replayed from there
//! once its incident is published; a silent delete would lose a batch of
//! affected accounts without a trace.
//!
//! Delivery is at least once: a crash between a handler's commit and the
//! row's removal applies the message again later, which handlers absorb
//! (they must be idempotent anyway, see [`MessageHandler`]).

mod drain;
mod store;

use std::future::Future;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use crate::messaging::{IncomingMessage, MessageHandler, PublishError, Publisher};

pub use drain::{ApplyParked, DrainReport, SweepReport};

/// The parking settings a service that parks adds to its configuration.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct ParkingConfig {
    /// Seconds a message parked for an unknown incident waits before it is
    /// dead-lettered (reason in x-candor-error).
    #[arg(long, env = "PARKED_MESSAGE_TTL_SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub parked_message_ttl_seconds: u64,
}

impl Default for ParkingConfig {
    fn default() -> Self {
        Self {
            parked_message_ttl_seconds: 86_400,
        }
    }
}

/// How parking runs; [`ParkingOptions::from_config`] for services, tests
/// shorten the times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkingOptions {
    /// How long a message may wait for its incident before it expires.
    pub ttl: Duration,
    /// Parked messages claimed at once by a drain: a bound on the rows one
    /// drain holds, not on how many it applies.
    pub drain_batch: u16,
    /// How long a claim keeps other drains off its rows; a crashed drain's
    /// rows are free again after it, and the next sweep applies them. Short
    /// (a handler applies one message in well under a second): a drain that
    /// outlives it may see another apply the same message, which the
    /// handlers' idempotence absorbs, while a long lease kept a crashed
    /// replica's batches waiting minutes after its restart.
    pub claim_lease: Duration,
    /// Time between two sweeps (the first runs at start).
    pub sweep_interval: Duration,
}

impl Default for ParkingOptions {
    fn default() -> Self {
        Self::from_config(&ParkingConfig::default())
    }
}

impl ParkingOptions {
    pub fn from_config(config: &ParkingConfig) -> Self {
        Self {
            ttl: Duration::from_secs(config.parked_message_ttl_seconds),
            drain_batch: 32,
            claim_lease: Duration::from_secs(20),
            sweep_interval: Duration::from_secs(10),
        }
    }
}

/// A service handler whose messages can be parked: it tells the sweep
/// which incidents are recorded, so their parked messages can be applied.
pub trait IncidentHandler: MessageHandler {
    /// Whether `incident_id` is recorded (its parked messages apply now).
    fn incident_known(
        &self,
        incident_id: &str,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

/// Why a drain or a sweep stopped; the rows not applied stay parked.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("parked messages: {0}")]
    Database(#[from] sqlx::Error),
    /// The handler failed transiently on a parked message.
    #[error("applying parked message {id}: {source:#}")]
    Handler {
        /// The row of the message.
        id: i64,
        #[source]
        source: anyhow::Error,
    },
    /// A message to dead-letter was not accepted by the broker.
    #[error("dead-lettering parked message {id}: {source}")]
    DeadLetter {
        /// The row of the message.
        id: i64,
        #[source]
        source: PublishError,
    },
    #[error("checking incident {incident_id}: {source:#}")]
    IncidentCheck {
        /// The incident whose state could not be read.
        incident_id: String,
        #[source]
        source: anyhow::Error,
    },
}

/// The drain is retried as the message that triggered it.
impl From<DrainError> for crate::messaging::HandlerError {
    fn from(error: DrainError) -> Self {
        Self::Transient(error.into())
    }
}

/// One service's parking: its database, its dead-letter queue, its options.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct IncidentParking {
    pool: PgPool,
    dead_letters: Publisher,
    dead_letter_routing_key: String,
    options: ParkingOptions,
}

impl IncidentParking {
    /// Parking in `pool`; expired or unappliable messages are published to
    /// `dead_letters` (the dead-letter exchange) under `queue`, the full name
    /// of the service's queue, so they land in its dead-letter queue.
    pub fn new(
        pool: PgPool,
        dead_letters: Publisher,
        queue: impl Into<String>,
        options: ParkingOptions,
    ) -> Self {
        Self {
            pool,
            dead_letters,
            dead_letter_routing_key: queue.into(),
            options,
        }
    }

    pub fn options(&self) -> &ParkingOptions {
        &self.options
    }
}

/// Serialises the two sides of the "batch before incident" race on
/// `incident_id`: the transaction recording the incident and the one
/// deciding to park take it. Released at commit.
pub async fn lock_incident(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('candor.incident:' || $1, 0))",
        incident_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Parks `message` until `incident_id` is recorded, in the caller's
/// transaction (which holds [`lock_incident`]). `dedup_key` identifies the
/// message among the incident's (the batch sequence): parking it again is a
/// no-op but frees it from a drain's claim, so a drain that handed it to a
/// handler which parked it again does not remove it. Returns whether it was
/// new.
pub async fn park(
    conn: &mut PgConnection,
    incident_id: &str,
    dedup_key: &str,
    message: &IncomingMessage,
) -> sqlx::Result<bool> {
    store::insert(conn, incident_id, dedup_key, message).await
}

/// Messages parked for `incident_id` (for tests and operators).
pub async fn parked_count(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<i64> {
    store::count(conn, incident_id).await
}
