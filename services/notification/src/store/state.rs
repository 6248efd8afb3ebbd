//! Where a job is: stored as text in `email_jobs.state` (the column's CHECK
//! lists the same names), parsed here when a row is read.

use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// The state of an email job (the contract's `DeliveryState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting to be sent (first time, after a transient failure, or after
    /// a soft bounce).
    Queued,
    /// Claimed by a sender; its SMTP transaction may be under way.
    Sending,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up on (see `failure_class`).
    Failed,
    /// Not sent on purpose (see `suppression_reason`).
    Suppressed,
    /// Accepted, then reported undeliverable (a hard bounce, or soft
    /// bounces past `SOFT_BOUNCE_MAX_RETRIES`).
    Bounced,
    /// Delivered, then reported as spam by the recipient.
    Complained,
}

impl JobState {
    /// Every state, in the order of the column's CHECK.
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Suppressed,
        Self::Bounced,
        Self::Complained,
    ];

    /// The name stored in `email_jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A stored state this build does not know (written by a newer version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown email job state {0:?}")]
pub struct UnknownJobState(pub String);

impl FromStr for JobState {
    type Err = UnknownJobState;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| UnknownJobState(name.to_owned()))
    }
}

impl Type<Postgres> for JobState {
    fn type_info() -> PgTypeInfo {
        <str as Type<Postgres>>::type_info()
    }

    fn compatible(type_info: &PgTypeInfo) -> bool {
        <str as Type<Postgres>>::compatible(type_info)
    }
}

impl Encode<'_, Postgres> for JobState {
    fn encode_by_ref(&self, buffer: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buffer)
    }
}

impl<'row> Decode<'row, Postgres> for JobState {
    fn decode(value: PgValueRef<'row>) -> Result<Self, BoxDynError> {
        Ok(<&str as Decode<Postgres>>::decode(value)?.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_stored_name() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
        }
        assert!("delivered".parse::<JobState>().is_err());
    }
}
