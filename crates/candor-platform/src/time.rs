//! Timestamps between the contracts (`google.protobuf.Timestamp`) and the
//! services' UTC times (`chrono`), converted one way everywhere.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// `time` as a protobuf timestamp (nanosecond precision kept).
pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

/// A protobuf timestamp as UTC; `None` when it cannot be one (negative
/// nanos, or seconds out of chrono's range).
pub fn datetime(timestamp: &Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(timestamp.nanos).ok()?;
    DateTime::from_timestamp(timestamp.seconds, nanos)
}

/// An event's time, or now when the event does not carry a usable one (the
/// consumer records when it learned of the event instead).
pub fn datetime_or_now(timestamp: Option<&Timestamp>) -> DateTime<Utc> {
    timestamp.and_then(datetime).unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_survives_the_round_trip() {
        let time = DateTime::from_timestamp(1_305_337_800, 123_456_789).unwrap();
        assert_eq!(datetime(&timestamp(time)), Some(time));
    }

    #[test]
    fn an_impossible_timestamp_is_none() {
        let negative_nanos = Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(datetime(&negative_nanos), None);
        let too_far = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(datetime(&too_far), None);
    }
}
