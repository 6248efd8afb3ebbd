//! Protobuf timestamps as RFC 3339 UTC for people and reports.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn rfc3339(timestamp: &prost_types::Timestamp) -> String {
    let nanos = u32::try_from(timestamp.nanos).unwrap_or_default();
    DateTime::<Utc>::from_timestamp(timestamp.seconds, nanos)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{}s", timestamp.seconds))
}
